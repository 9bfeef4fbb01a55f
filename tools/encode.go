package tools

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// This file encodes query results straight from the wire (text-format values) into the JSON
// the client receives: one encoder per column, chosen once per result, appends each value to
// the row buffer without building a Go value for it. The JSON is the one documented on
// [Result]; the common types have a direct encoder, every other type goes through jsonValue
// (the one definition of a value's JSON form) and encoding/json. TestEncodeMatchesDecode
// proves the two paths give the same JSON for every type of the executor's fixture.

// valueEncoder appends the JSON form of one non-NULL text-format value to buf.
type valueEncoder func(buf, raw []byte) ([]byte, error)

// encoderFor returns the encoder of a column of type oid.
func encoderFor(tm *pgtype.Map, oid uint32) valueEncoder {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		return func(buf, raw []byte) ([]byte, error) {
			if !isInteger(raw) {
				return appendFallback(buf, tm, oid, raw)
			}
			return append(buf, raw...), nil
		}
	case pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		return func(buf, raw []byte) ([]byte, error) {
			if !isJSONNumber(raw) { // NaN, Infinity, -Infinity
				return appendString(buf, raw), nil
			}
			return append(buf, raw...), nil
		}
	case pgtype.BoolOID:
		return func(buf, raw []byte) ([]byte, error) {
			switch string(raw) {
			case "t":
				return append(buf, "true"...), nil
			case "f":
				return append(buf, "false"...), nil
			}
			return appendFallback(buf, tm, oid, raw)
		}
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UUIDOID,
		pgtype.IntervalOID, pgtype.XMLOID, pgtype.QCharOID:
		return func(buf, raw []byte) ([]byte, error) { return appendString(buf, raw), nil }
	case pgtype.JSONOID, pgtype.JSONBOID:
		return func(buf, raw []byte) ([]byte, error) {
			n := len(buf)
			var out bytes.Buffer
			out.Grow(len(raw))
			if err := json.Compact(&out, raw); err != nil {
				return buf[:n], fmt.Errorf("json value: %w", err)
			}
			return append(buf, out.Bytes()...), nil
		}
	case pgtype.DateOID:
		// ISO DateStyle (set by ExecQuery): 2024-03-01. Infinity, BC dates and years past
		// 9999 take the general path.
		return func(buf, raw []byte) ([]byte, error) {
			if len(raw) != 10 || !isDate(raw) {
				return appendFallback(buf, tm, oid, raw)
			}
			buf = append(buf, '"')
			buf = append(buf, raw...)
			return append(buf, '"'), nil
		}
	case pgtype.TimestampOID:
		// 2024-03-01 12:34:56[.789] becomes 2024-03-01T12:34:56[.789].
		return func(buf, raw []byte) ([]byte, error) {
			if !isTimestamp(raw, len(raw)) {
				return appendFallback(buf, tm, oid, raw)
			}
			return appendTimestamp(buf, raw[:len(raw)], ""), nil
		}
	case pgtype.TimestamptzOID:
		// In UTC: 2024-03-01 10:34:56.789+00 becomes 2024-03-01T10:34:56.789Z. Other offsets
		// (the session's TimeZone) take the general path, which converts to UTC.
		return func(buf, raw []byte) ([]byte, error) {
			n := len(raw) - 3
			if n < 19 || string(raw[n:]) != "+00" || !isTimestamp(raw, n) {
				return appendFallback(buf, tm, oid, raw)
			}
			return appendTimestamp(buf, raw[:n], "Z"), nil
		}
	case pgtype.ByteaOID:
		return func(buf, raw []byte) ([]byte, error) {
			if len(raw) < 2 || raw[0] != '\\' || raw[1] != 'x' || len(raw)%2 != 0 {
				return appendFallback(buf, tm, oid, raw)
			}
			b := make([]byte, (len(raw)-2)/2)
			if _, err := hex.Decode(b, raw[2:]); err != nil {
				return appendFallback(buf, tm, oid, raw)
			}
			buf = append(buf, '"')
			buf = base64.StdEncoding.AppendEncode(buf, b)
			return append(buf, '"'), nil
		}
	}
	if _, ok := tm.TypeForOID(oid); !ok {
		// Enums, extension types, domains over unknown bases: the text form (as jsonValue).
		return func(buf, raw []byte) ([]byte, error) { return appendString(buf, raw), nil }
	}
	return func(buf, raw []byte) ([]byte, error) { return appendFallback(buf, tm, oid, raw) }
}

// appendFallback encodes a value through jsonValue and encoding/json (arrays, ranges,
// geometric types, and the rare forms the direct encoders leave alone).
func appendFallback(buf []byte, tm *pgtype.Map, oid uint32, raw []byte) ([]byte, error) {
	v, err := jsonValue(tm, oid, raw)
	if err != nil {
		return buf, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return buf, err
	}
	return append(buf, bytes.TrimSuffix(out.Bytes(), []byte{'\n'})...), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether Postgres' text form of a float or numeric is also a JSON
// number (everything but NaN and the infinities; Postgres writes no leading '+' or '.').
func isJSONNumber(b []byte) bool {
	return len(b) > 0 && (isDigit(b[0]) || b[0] == '-') && json.Valid(b)
}

// isDate reports whether b is YYYY-MM-DD.
func isDate(b []byte) bool {
	return isDigit(b[0]) && isDigit(b[1]) && isDigit(b[2]) && isDigit(b[3]) && b[4] == '-' &&
		isDigit(b[5]) && isDigit(b[6]) && b[7] == '-' && isDigit(b[8]) && isDigit(b[9])
}

// isTimestamp reports whether b[:n] is YYYY-MM-DD HH:MM:SS with an optional fraction.
func isTimestamp(b []byte, n int) bool {
	if n < 19 || n > len(b) || !isDate(b[:10]) || b[10] != ' ' || b[13] != ':' || b[16] != ':' ||
		!isDigit(b[11]) || !isDigit(b[12]) || !isDigit(b[14]) || !isDigit(b[15]) || !isDigit(b[17]) || !isDigit(b[18]) {
		return false
	}
	if n == 19 {
		return true
	}
	if b[19] != '.' || n == 20 {
		return false
	}
	for _, c := range b[20:n] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func appendTimestamp(buf, ts []byte, suffix string) []byte {
	buf = append(buf, '"')
	buf = append(buf, ts[:10]...)
	buf = append(buf, 'T')
	buf = append(buf, ts[11:]...)
	buf = append(buf, suffix...)
	return append(buf, '"')
}

// appendString appends s as a JSON string the way encoding/json writes it without HTML
// escaping: quotes, backslashes and control characters escaped, invalid UTF-8 replaced by
// U+FFFD, U+2028 and U+2029 escaped (JavaScript line terminators).
func appendString(buf, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendMasked writes MaskedValue in place of a value (execOptions.mask).
func appendMasked(buf, _ []byte) ([]byte, error) {
	return append(buf, `"`+MaskedValue+`"`...), nil
}

// rowsEncoder accumulates encoded rows as one JSON array: [[v, v], [v, v]].
type rowsEncoder struct {
	enc []valueEncoder
	buf []byte
	n   int
}

func newRowsEncoder(tm *pgtype.Map, oids []uint32) *rowsEncoder {
	e := &rowsEncoder{enc: make([]valueEncoder, len(oids)), buf: append(make([]byte, 0, 1024), '[')}
	for i, oid := range oids {
		e.enc[i] = encoderFor(tm, oid)
	}
	return e
}

// add encodes one row; on error the buffer is left as it was.
func (e *rowsEncoder) add(vals [][]byte, names func(int) string) error {
	mark := len(e.buf)
	if e.n > 0 {
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, '[')
	for i, raw := range vals {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if raw == nil {
			e.buf = append(e.buf, "null"...)
			continue
		}
		var err error
		if e.buf, err = e.enc[i](e.buf, raw); err != nil {
			e.buf = e.buf[:mark]
			return fmt.Errorf("encode column %q: %w", names(i), err)
		}
	}
	e.buf = append(e.buf, ']')
	e.n++
	return nil
}

// bytes returns the finished array.
func (e *rowsEncoder) bytes() []byte {
	return append(e.buf, ']')
}

// spliceRows writes v (a value whose JSON has a top-level "rows" field marshalled as null)
// with rows in place of that null: the rows, encoded once from the wire, are never parsed or
// copied by encoding/json. Only the small rest of the value (columns, counts, freshness) goes
// through json.Marshal.
func spliceRows(v any, rows []byte) ([]byte, error) {
	head, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// String contents are escaped, so `"rows":null` can only be the field itself; the columns
	// before it have no field of that name.
	const field = `"rows":null`
	i := bytes.Index(head, []byte(field))
	if i < 0 {
		return nil, fmt.Errorf("encode result: no rows field in %.80s", head)
	}
	out := make([]byte, 0, len(head)+len(rows))
	out = append(out, head[:i+len(`"rows":`)]...)
	out = append(out, rows...)
	out = append(out, head[i+len(field):]...)
	return out, nil
}

// formatFloat32 is the shortest decimal that reads back as the same float4 (as Postgres
// writes it), for the general path.
func formatFloat32(f float32) json.Number {
	return json.Number(strconv.FormatFloat(float64(f), 'g', -1, 32))
}
