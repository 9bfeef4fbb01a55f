package connerr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Cause returns the real cause of a failed connect in err's chain: of the attempts pgx made,
// the last one that is not the refused TLS of sslmode=prefer, as "host:port: cause". ok is
// false when err holds no *pgconn.ConnectError.
func Cause(err error) (cause string, ok bool) {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return "", false
	}
	attempts := flatten(ce.Unwrap())
	var kept []error
	for _, a := range attempts {
		if !strings.Contains(a.Error(), "server refused TLS connection") {
			kept = append(kept, a)
		}
	}
	if len(kept) == 0 {
		kept = attempts
	}
	if len(kept) == 0 {
		return ce.Error(), true
	}
	return kept[len(kept)-1].Error(), true
}

// flatten lists the leaves of a joined error (pgx joins one error per attempt).
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Text is err.Error() with the text of a failed connect in it replaced by one line that
// leads with the real cause: "cannot connect as user u to database d: host:port: cause".
// Other errors are returned as they are.
func Text(err error) string {
	if err == nil {
		return ""
	}
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return err.Error()
	}
	cause, _ := Cause(err)
	short := cause
	if ce.Config != nil {
		short = fmt.Sprintf("cannot connect as user %s to database %s: %s", ce.Config.User, ce.Config.Database, cause)
	}
	return strings.Replace(err.Error(), ce.Error(), short, 1)
}
