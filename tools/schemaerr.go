package tools

import (
	"regexp"
	"strings"
)

// schemaProblem matches one failed keyword of the go-sdk's JSON Schema validator, after the
// "validating root: validating /properties/<arg>: " prefixes.
var (
	schemaPath    = regexp.MustCompile(`validating /properties/([^/:]+)[^:]*: `)
	schemaMinimum = regexp.MustCompile(`^minimum: (\S+) is less than (\S+)$`)
	schemaMaximum = regexp.MustCompile(`^maximum: (\S+) is greater than (\S+)$`)
	schemaType    = regexp.MustCompile(`^type: .* has type "(\w+)", want (?:one of )?(.+)$`)
	schemaMinLen  = regexp.MustCompile(`^minLength: .* contains \d+ Unicode code points, fewer than (\d+)$`)
	schemaMaxLen  = regexp.MustCompile(`^maxLength: .* contains (\d+) Unicode code points, more than (\d+)$`)
	schemaMissing = regexp.MustCompile(`required: missing properties: \[(.*)\]$`)
	schemaExtra   = regexp.MustCompile(`unexpected additional properties \[(.*)\]$`)
)

// schemaErrorText says in words what is wrong with a tool's arguments, from the error of the
// input schema's validation ("limit must be at least 1 (got 0)" rather than "validating root:
// validating /properties/limit: minimum: 0/1 is less than 1.000000"). An error it does not
// recognise is returned without the validator's path prefixes.
func schemaErrorText(err error) string {
	s := err.Error()
	arg := ""
	if m := schemaPath.FindAllStringSubmatchIndex(s, -1); len(m) > 0 {
		last := m[len(m)-1]
		arg = s[last[2]:last[3]]
		s = s[last[1]:]
	}
	s = strings.TrimPrefix(s, "validating root: ")
	if arg != "" {
		if m := schemaMinimum.FindStringSubmatch(s); m != nil {
			return arg + " must be at least " + schemaNumber(m[2]) + " (got " + schemaNumber(m[1]) + ")"
		}
		if m := schemaMaximum.FindStringSubmatch(s); m != nil {
			return arg + " must be at most " + schemaNumber(m[2]) + " (got " + schemaNumber(m[1]) + ")"
		}
		if m := schemaType.FindStringSubmatch(s); m != nil {
			return arg + " must be of type " + strings.ReplaceAll(m[2], `"`, "") + ", not " + m[1]
		}
		if m := schemaMinLen.FindStringSubmatch(s); m != nil {
			if m[1] == "1" {
				return arg + " must not be empty"
			}
			return arg + " must be at least " + m[1] + " characters long"
		}
		if m := schemaMaxLen.FindStringSubmatch(s); m != nil {
			return arg + " must be at most " + m[2] + " characters long (got " + m[1] + ")"
		}
	}
	if m := schemaMissing.FindStringSubmatch(s); m != nil {
		return "missing required argument " + strings.ReplaceAll(m[1], `"`, "")
	}
	if m := schemaExtra.FindStringSubmatch(s); m != nil {
		return "unknown argument " + strings.ReplaceAll(m[1], `"`, "")
	}
	if arg != "" {
		return arg + ": " + s
	}
	return s
}

// schemaNumber prints a number of the validator's messages plainly: "0/1" (a big.Rat) as 0,
// "1.000000" as 1.
func schemaNumber(s string) string {
	if num, den, ok := strings.Cut(s, "/"); ok && den == "1" {
		return num
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
