package tools

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Values: each text-format column value becomes a JSON-friendly Go value.

func (r *cursorReader) columnName(i int) string { return r.fields[i].Name }

func (r *cursorReader) decodeRow(vals [][]byte) ([]any, error) {
	row := make([]any, len(vals))
	for i, raw := range vals {
		if raw != nil && r.masked != nil && r.masked[i] {
			row[i] = MaskedValue
			continue
		}
		v, err := jsonValue(r.tm, r.fields[i].DataTypeOID, raw)
		if err != nil {
			return nil, fmt.Errorf("decode column %q: %w", r.fields[i].Name, err)
		}
		row[i] = v
	}
	return row, nil
}

// jsonValue converts one text-format value into a JSON-friendly Go value (see [Result]).
func jsonValue(tm *pgtype.Map, oid uint32, raw []byte) (any, error) {
	if raw == nil {
		return nil, nil
	}
	s := string(raw)
	switch oid {
	case pgtype.NumericOID:
		if json.Valid(raw) {
			return json.Number(s), nil
		}
		return s, nil // NaN, Infinity
	case pgtype.JSONOID, pgtype.JSONBOID:
		return json.RawMessage(s), nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UUIDOID,
		pgtype.IntervalOID, pgtype.XMLOID, pgtype.QCharOID:
		return s, nil
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		if s == "infinity" || s == "-infinity" {
			return s, nil
		}
	}
	t, ok := tm.TypeForOID(oid)
	if !ok {
		return s, nil // enums, domains' unknown bases, extension types: the text form
	}
	v, err := t.Codec.DecodeValue(tm, oid, pgtype.TextFormatCode, raw)
	if err != nil {
		return s, nil //nolint:nilerr // the text form is always a faithful fallback
	}
	if n, ok := normalize(oid, v); ok {
		return n, nil
	}
	return s, nil
}

// normalize maps decoded Go values to JSON-friendly ones; ok is false when the value has no
// obvious JSON form, and the caller falls back to the text form.
func normalize(oid uint32, v any) (any, bool) {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return x, true
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return normalize(oid, float64(x))
		}
		return formatFloat32(x), true
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN", true
		case math.IsInf(x, 1):
			return "Infinity", true
		case math.IsInf(x, -1):
			return "-Infinity", true
		}
		return x, true
	case time.Time:
		switch oid {
		case pgtype.DateOID, pgtype.DateArrayOID:
			return x.Format(time.DateOnly), true
		case pgtype.TimestampOID, pgtype.TimestampArrayOID:
			return x.Format("2006-01-02T15:04:05.999999999"), true
		}
		return x.UTC().Format(time.RFC3339Nano), true
	case []byte:
		return base64.StdEncoding.EncodeToString(x), true
	case [16]byte: // uuid inside arrays
		return pgtype.UUID{Bytes: x, Valid: true}.String(), true
	case pgtype.Numeric:
		b, err := x.MarshalJSON()
		if err != nil {
			return nil, false
		}
		if json.Valid(b) {
			return json.RawMessage(b), true
		}
		return nil, false
	case map[string]any:
		return x, true
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, ok := normalize(oid, e)
			if !ok {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	}
	return nil, false
}
