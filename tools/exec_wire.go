package tools

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// The executor speaks the extended query protocol itself (pgconn has no Execute with a row
// limit): the query is bound to a named portal — the protocol's own cursor — and each Execute
// asks for at most n rows, so the server never produces rows nobody reads, exactly as
// DECLARE ... CURSOR and FETCH n would, without parsing and planning a DECLARE and a FETCH on
// every call. Where the pool keeps named statements (execOptions.prepare), the query itself is
// a named prepared statement, parsed and planned once per connection (bounded per connection,
// see queryStatements); behind a transaction pooler it is the unnamed statement, parsed on
// every call. Either way every message of a call sits inside the READ ONLY transaction, with
// bound values only, and the transaction always ends in ROLLBACK.

// portalName is the only portal ExecQuery binds; it lives and dies in one transaction.
const portalName = "agentmv_p"

// maxQueryStatements bounds the prepared query statements one connection keeps; the least
// recently used is closed when another is needed.
const maxQueryStatements = 64

// stmtCacheKey is where a connection's queryStatements live (pgconn.PgConn.CustomData).
const stmtCacheKey = "agentmv.query_statements"

// queryStatements is the LRU of the query statements prepared on one connection. Only the
// goroutine holding the connection touches it.
type queryStatements struct {
	ll     *list.List // front = most recently used; values are statement names
	byName map[string]*list.Element
}

func connStatements(conn *pgconn.PgConn) *queryStatements {
	m := conn.CustomData()
	if s, ok := m[stmtCacheKey].(*queryStatements); ok {
		return s
	}
	s := &queryStatements{ll: list.New(), byName: map[string]*list.Element{}}
	m[stmtCacheKey] = s
	return s
}

func (s *queryStatements) has(name string) bool {
	e, ok := s.byName[name]
	if ok {
		s.ll.MoveToFront(e)
	}
	return ok
}

func (s *queryStatements) add(name string) {
	if _, ok := s.byName[name]; !ok {
		s.byName[name] = s.ll.PushFront(name)
	}
}

func (s *queryStatements) remove(name string) {
	if e, ok := s.byName[name]; ok {
		s.ll.Remove(e)
		delete(s.byName, name)
	}
}

// victim is the statement to close before another is prepared, or "".
func (s *queryStatements) victim() string {
	if s.ll.Len() < maxQueryStatements {
		return ""
	}
	return s.ll.Back().Value.(string)
}

// queryStatementName names the prepared statement of a query text and its parameter types:
// a digest, so the name carries nothing of the text.
func queryStatementName(sql string, paramOIDs []uint32) string {
	h := sha256.New()
	h.Write([]byte(sql))
	var b [4]byte
	for _, o := range paramOIDs {
		binary.BigEndian.PutUint32(b[:], o)
		h.Write(b[:])
	}
	return "agentmv_q_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// isStaleStatement reports the errors after which the connection's prepared statements must
// be prepared again: the result type of a cached plan changed (a view was rebuilt with other
// columns), or a statement is gone (someone ran DEALLOCATE on the connection).
func isStaleStatement(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == "26000" || (pe.Code == "0A000" && strings.Contains(pe.Message, "cached plan must not change result type"))
}

// step is what one queued message answers with.
type step uint8

const (
	stepParse    step = iota // ParseComplete
	stepBind                 // BindComplete
	stepClose                // CloseComplete
	stepDescribe             // RowDescription or NoData
	stepExec                 // rows discarded, then CommandComplete (or EmptyQueryResponse)
	stepMark                 // like stepExec, the last value of the first row kept (the status mark)
	stepFetch                // the portal's rows, then CommandComplete or PortalSuspended
)

// pipeline is the messages of one round trip, ended by Sync.
type pipeline struct {
	fe      *pgproto3.Frontend
	steps   []step
	parsed  string // the statement the Parse at step parseAt prepares, recorded when done
	parseAt int
	closed  string // the statement the Close closes, forgotten when done
}

func (r *cursorReader) newPipeline() *pipeline {
	return &pipeline{fe: r.conn.Frontend(), steps: make([]step, 0, 16)}
}

// fixed queues one of the fixedStatements: prepared when opts.prepare, else unnamed.
func (r *cursorReader) fixed(p *pipeline, name string, params [][]byte) {
	if r.opts.prepare {
		p.exec(name, "", params, stepExec)
		return
	}
	for _, st := range fixedStatements {
		if st.name == name {
			p.exec("", st.sql, params, stepExec)
			return
		}
	}
	panic("tools: unknown fixed statement " + name)
}

// exec queues a statement run to completion on the unnamed portal: the prepared statement
// name, or sql as the unnamed statement when name is "".
func (p *pipeline) exec(name, sql string, params [][]byte, kind step) {
	if name == "" {
		p.fe.SendParse(&pgproto3.Parse{Query: sql})
		p.steps = append(p.steps, stepParse)
	}
	p.fe.SendBind(&pgproto3.Bind{PreparedStatement: name, Parameters: params})
	p.fe.SendExecute(&pgproto3.Execute{})
	p.steps = append(p.steps, stepBind, kind)
}

// fetch queues an Execute of at most n rows of the portal.
func (p *pipeline) fetch(n int) {
	p.fe.SendExecute(&pgproto3.Execute{Portal: portalName, MaxRows: uint32(n)})
	p.steps = append(p.steps, stepFetch)
}

// queryStatement decides how the query is run: its prepared statement (opts.prepare) and
// whether it must be parsed first, and the statement to close to make room (queued first in
// the pipeline, before anything that could fail and make the server skip it).
func (r *cursorReader) queryStatement(p *pipeline, deparsed string) (parse bool) {
	if !r.opts.prepare {
		return true
	}
	stmts := connStatements(r.conn)
	r.stmt = queryStatementName(deparsed, r.opts.paramOIDs)
	if stmts.has(r.stmt) {
		return false
	}
	if v := stmts.victim(); v != "" {
		p.fe.SendClose(&pgproto3.Close{ObjectType: 'S', Name: v})
		p.steps = append(p.steps, stepClose)
		p.closed = v
	}
	return true
}

// open queues the query (parsed first when parse) bound to the portal, described, and its
// first Execute of n rows.
func (r *cursorReader) open(p *pipeline, deparsed string, parse bool, n int) {
	if parse {
		p.fe.SendParse(&pgproto3.Parse{Name: r.stmt, Query: deparsed, ParameterOIDs: r.opts.paramOIDs})
		if r.stmt != "" {
			p.parsed, p.parseAt = r.stmt, len(p.steps)
		}
		p.steps = append(p.steps, stepParse)
	}
	p.fe.SendBind(&pgproto3.Bind{DestinationPortal: portalName, PreparedStatement: r.stmt, Parameters: r.opts.params})
	p.fe.SendDescribe(&pgproto3.Describe{ObjectType: 'P', Name: portalName})
	p.steps = append(p.steps, stepBind, stepDescribe)
	p.fetch(n)
}

// send ends the pipeline with Sync, writes it and reads every answer up to ReadyForQuery. The
// first error the server reports is returned after the connection is back in sync (the server
// skips the rest of the pipeline); an error reading or writing leaves the connection closed.
func (r *cursorReader) send(ctx context.Context, p *pipeline) error {
	p.fe.SendSync(&pgproto3.Sync{})
	if err := ctx.Err(); err != nil {
		r.closeConn(ctx) // the queued messages are never sent
		return err
	}
	// One watch for the whole round trip: on cancellation, expire the socket's deadline (as
	// pgconn's default handler does); the connection is then closed, never reused, even when
	// the round trip finished as the deadline was being set.
	stop := context.AfterFunc(ctx, func() { _ = r.conn.Conn().SetDeadline(time.Now()) })
	err := r.roundTrip(p)
	if !stop() {
		r.closeConn(ctx)
		if cerr := ctx.Err(); cerr != nil && err != nil {
			return fmt.Errorf("%w (%w)", cerr, err)
		}
	}
	return err
}

func (r *cursorReader) roundTrip(p *pipeline) error {
	if err := p.fe.Flush(); err != nil {
		r.closeConn(context.Background())
		return fmt.Errorf("send: %w", err)
	}
	var pgErr error
	i := 0
	for {
		msg, err := r.conn.ReceiveMessage(context.Background())
		if err != nil {
			r.closeConn(context.Background())
			if errors.Is(err, errConnDropped) {
				return err
			}
			return fmt.Errorf("receive: %w", err)
		}
		cur := step(255)
		if i < len(p.steps) {
			cur = p.steps[i]
		}
		switch m := msg.(type) {
		case *pgproto3.ReadyForQuery:
			return pgErr
		case *pgproto3.ErrorResponse:
			if pgErr == nil {
				pgErr = pgconn.ErrorResponseToPgError(m)
			}
			i = len(p.steps) // the server skips to Sync
			continue
		case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus, *pgproto3.NotificationResponse:
			continue
		case *pgproto3.ParseComplete:
			err = r.expect(cur, stepParse, msg)
			if err == nil && p.parsed != "" && i == p.parseAt {
				connStatements(r.conn).add(p.parsed)
			}
		case *pgproto3.BindComplete:
			err = r.expect(cur, stepBind, msg)
		case *pgproto3.CloseComplete:
			if err = r.expect(cur, stepClose, msg); err == nil {
				connStatements(r.conn).remove(p.closed)
			}
		case *pgproto3.RowDescription:
			if err = r.expect(cur, stepDescribe, msg); err == nil {
				r.describe(m.Fields)
			}
		case *pgproto3.NoData:
			if err = r.expect(cur, stepDescribe, msg); err == nil {
				r.describe(nil)
			}
		case *pgproto3.DataRow:
			switch cur {
			case stepMark:
				if r.mark == "" && len(m.Values) > 0 {
					r.mark = string(m.Values[len(m.Values)-1])
				}
			case stepFetch:
				if err := r.row(m.Values); err != nil {
					if errors.Is(err, errConnDropped) {
						return err
					}
					// Not the server's error: leave the connection for Release to destroy.
					r.closeConn(context.Background())
					return err
				}
			case stepExec:
			default:
				err = r.expect(cur, stepFetch, msg)
			}
			if err == nil {
				continue // more rows or the end of the command follow
			}
		case *pgproto3.CommandComplete, *pgproto3.EmptyQueryResponse:
			if cur == stepFetch {
				r.exhausted = true
			} else if cur != stepExec && cur != stepMark {
				err = r.expect(cur, stepExec, msg)
			}
		case *pgproto3.PortalSuspended:
			err = r.expect(cur, stepFetch, msg)
		default:
			err = fmt.Errorf("unexpected %T", msg)
		}
		if err != nil {
			r.closeConn(context.Background())
			return err
		}
		i++
	}
}

func (r *cursorReader) expect(got, want step, msg pgproto3.BackendMessage) error {
	if got != want {
		return fmt.Errorf("protocol out of step: %T at step %d, want step %d", msg, got, want)
	}
	return nil
}

// closeConn closes the connection: its protocol state is unknown.
func (r *cursorReader) closeConn(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = r.conn.Close(cctx)
}

// describe records the columns of the portal and prepares the row encoder.
func (r *cursorReader) describe(fds []pgproto3.FieldDescription) {
	r.fields = make([]pgconn.FieldDescription, len(fds))
	oids := make([]uint32, len(fds))
	for i, f := range fds {
		r.fields[i] = pgconn.FieldDescription{Name: string(f.Name), TableOID: f.TableOID,
			TableAttributeNumber: f.TableAttributeNumber, DataTypeOID: f.DataTypeOID,
			DataTypeSize: f.DataTypeSize, TypeModifier: f.TypeModifier, Format: f.Format}
		oids[i] = f.DataTypeOID
		if _, ok := r.tm.TypeForOID(f.DataTypeOID); !ok {
			r.unknown = append(r.unknown, f.DataTypeOID)
		}
	}
	if r.opts.encode {
		r.enc = newRowsEncoder(r.tm, oids)
	}
	if r.opts.mask != nil {
		r.masked = make([]bool, len(r.fields))
		for i, f := range r.fields {
			if r.masked[i] = r.opts.mask(f.Name); r.masked[i] && r.enc != nil {
				r.enc.enc[i] = appendMasked
			}
		}
	}
}
