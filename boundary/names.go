package boundary

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Default names, as the seed.
const (
	DefaultSchema      = "agent_mv"
	DefaultRuntimeRole = "agent_mv_runtime"
	DefaultOwnerRole   = "agent_mv_owner"
)

// Names are the three identifiers every statement in this package is built from.
type Names struct {
	Schema      string // <S>, default agent_mv
	RuntimeRole string // <R>, LOGIN, what agents connect as
	OwnerRole   string // <O>, NOLOGIN, owns <S>, the views and the refresh function
}

// DefaultNames returns the seed's names.
func DefaultNames() Names {
	return Names{Schema: DefaultSchema, RuntimeRole: DefaultRuntimeRole, OwnerRole: DefaultOwnerRole}
}

// Validate checks all three names (ValidateSchemaName, ValidateRoleName) and that the roles
// differ.
func (n Names) Validate() error {
	if err := ValidateSchemaName(n.Schema); err != nil {
		return fmt.Errorf("unsafe %w", err)
	}
	for _, r := range []struct{ what, v string }{{"runtime role", n.RuntimeRole}, {"owner role", n.OwnerRole}} {
		if err := ValidateRoleName(r.what, r.v); err != nil {
			return fmt.Errorf("unsafe %w", err)
		}
	}
	if n.RuntimeRole == n.OwnerRole {
		return fmt.Errorf("runtime role and owner role are both %q: they must differ, or the runtime role would own the views", n.RuntimeRole)
	}
	return nil
}

// validSchema checks only the schema: readers that the runtime role calls know no role names.
func (n Names) validSchema() error { return ValidateSchemaName(n.Schema) }

// rel returns "<S>"."<name>", for binding to to_regclass.
func (n Names) rel(name string) string { return sqlData{n: n}.Rel(name) }

// function returns the refresh function's signature, for binding to to_regprocedure.
func (n Names) function() string { return sqlData{n: n}.Function() + "(text)" }

// quoteLiteral returns s as a standard-conforming SQL string literal. Only used for values
// Postgres will not take as parameters (utility statements, function bodies); every caller
// passes a validated identifier or a SCRAM verifier (base64 alphabet plus $ and :).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Reader is what the typed readers need: *pgxpool.Pool, *pgx.Conn and pgx.Tx all satisfy it.
type Reader interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Querier is a Reader that can also Exec: *pgxpool.Pool, *pgx.Conn and pgx.Tx.
type Querier interface {
	Reader
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Relation is a schema-qualified relation name.
type Relation struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Kind is pg_class.relkind when read from the catalog ('r','v','m','p','f'); empty otherwise.
	Kind string `json:"kind,omitempty"`
}

// String returns schema.name (unquoted, as the seed's lineage table stores it).
func (r Relation) String() string { return r.Schema + "." + r.Name }

// Quoted returns "schema"."name".
func (r Relation) Quoted() string { return pgx.Identifier{r.Schema, r.Name}.Sanitize() }

// ParseRelation splits "schema.name" (the seed's lineage format) at the first dot.
func ParseRelation(s string) (Relation, error) {
	schema, name, ok := strings.Cut(s, ".")
	if !ok || schema == "" || name == "" {
		return Relation{}, fmt.Errorf("relation %q is not schema-qualified (want schema.name)", s)
	}
	return Relation{Schema: schema, Name: name}, nil
}

// exec runs one statement of ours with a wrapped error saying which step failed.
func exec(ctx context.Context, q Querier, step, sql string, args ...any) error {
	if _, err := q.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}
