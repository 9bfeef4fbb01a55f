package boundary

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// The name rules. Every name that becomes a Postgres identifier or a file name goes through one
// of these functions, wherever it comes from (materialize.yaml, settings, a tool argument), so
// what a setup tool accepts is exactly what apply accepts.

// MaxIdentifierBytes is Postgres's identifier length limit (NAMEDATALEN-1). Longer names are
// silently truncated by Postgres, so agentmv rejects them instead.
const MaxIdentifierBytes = 63

// identPattern is the only accepted shape for names that become Postgres identifiers or file
// names: lower case, so Postgres never folds them and quoting never changes their meaning.
var identPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// ValidateIdentifier checks that name is usable as a Postgres identifier or file name for
// agentmv: it matches ^[a-z_][a-z0-9_]*$ and is at most 63 bytes. kind names the thing in the
// error ("view name", "target_schema", …).
func ValidateIdentifier(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s must not be empty", kind)
	case len(name) > MaxIdentifierBytes:
		return fmt.Errorf("%s %q is %d bytes; Postgres identifiers are at most %d bytes (it would silently truncate it), use a shorter name",
			kind, name, len(name), MaxIdentifierBytes)
	case !identPattern.MatchString(name):
		return fmt.Errorf("%s %q must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits and _, not starting with a digit)", kind, name)
	}
	return nil
}

// ValidateViewName checks a managed view's name: an identifier (ValidateIdentifier) that does
// not start with pg_, is not the name of one of agentmv's own objects in the target schema
// (OwnObjectNames) and is not an SQL reserved word.
func ValidateViewName(name string) error {
	if err := ValidateIdentifier("view name", name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "pg_") {
		return fmt.Errorf("view name %q must not start with pg_ (pg_catalog comes first on the search path, so agents would read a system catalog instead)", name)
	}
	if slices.Contains(OwnObjectNames(), name) {
		return fmt.Errorf("view name %q is reserved: agentmv keeps its own table of that name in the target schema", name)
	}
	if IsReservedKeyword(name) {
		return fmt.Errorf("view name %q is an SQL reserved word: agents would have to quote it in every query; choose another name", name)
	}
	return nil
}

// ValidateSchemaName checks the target schema's name: an identifier that is not a pg_* schema,
// public or information_schema (agentmv needs a schema of its own).
func ValidateSchemaName(name string) error {
	if err := ValidateIdentifier("target_schema", name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "pg_") || name == "information_schema" || name == "public" {
		return fmt.Errorf("target_schema %q is not allowed: use a dedicated schema such as %s (pg_* schemas are reserved by Postgres)", name, DefaultSchema)
	}
	return nil
}

// ValidateRoleName checks a role name (kind is "runtime role" or "owner role"): an identifier
// that does not start with pg_ and is not public.
func ValidateRoleName(kind, name string) error {
	if err := ValidateIdentifier(kind, name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "pg_") || name == "public" {
		return fmt.Errorf("%s %q is reserved by Postgres (pg_* roles and PUBLIC); choose another name", kind, name)
	}
	return nil
}

// IsReservedKeyword asks Postgres' own scanner whether name is a reserved keyword (one that
// cannot be used as an unquoted table name).
func IsReservedKeyword(name string) bool {
	res, err := pg_query.Scan(name)
	if err != nil || len(res.Tokens) != 1 {
		return false
	}
	k := res.Tokens[0].KeywordKind
	return k == pg_query.KeywordKind_RESERVED_KEYWORD || k == pg_query.KeywordKind_TYPE_FUNC_NAME_KEYWORD
}
