package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
)

// Limits bound one read-only query. Zero fields take the Default* values.
type Limits struct {
	// MaxRows is the most rows returned; one more is fetched to tell whether the result was cut.
	MaxRows int
	// MaxBytes is the budget of returned data, counted approximately on the wire (the text form
	// of each value plus one byte per value). A row that would cross it is not returned.
	MaxBytes int
	// StatementTimeout bounds the server time of the whole query (every Execute together).
	StatementTimeout time.Duration
	// IdleInTxTimeout makes the server end the transaction if the client stalls mid-fetch.
	IdleInTxTimeout time.Duration
}

// Defaults for [Limits], which bound one query of a tool (query_view, sample_query, a declared
// tool), not the session (the runtime role's own defaults are boundary.RoleLimits). The tool
// layer clamps agent-supplied limits to its settings before calling ExecQuery; ExecQuery
// itself only fills zeros.
const (
	DefaultMaxRows  = 1000
	DefaultMaxBytes = 1 << 20
	// DefaultQueryStatementTimeout is the server time of one query (every FETCH together).
	DefaultQueryStatementTimeout = 5 * time.Second
	// DefaultQueryIdleInTxTimeout ends the query's transaction if the client stalls mid-fetch.
	DefaultQueryIdleInTxTimeout = 10 * time.Second
)

// Truncation reasons reported in [Result.TruncatedReason].
const (
	TruncatedMaxRows  = "max_rows"
	TruncatedMaxBytes = "max_bytes"
)

// Column describes one result column.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"` // Postgres type name, e.g. int8, numeric, timestamptz, _text
}

// Result is what a read-only query returned. Values in Rows are JSON-friendly: bool, int64 and
// other Go integers, float64 (NaN and infinities as strings), json.Number for numeric (a
// string for NaN/Infinity), RFC 3339 strings for timestamptz (UTC) and timestamp/date (no
// offset), base64 strings for bytea, json.RawMessage for json/jsonb, []any for arrays, and
// the Postgres text form as a string for everything else (uuid, interval, enums, ...).
//
// The runtime tools get the rows already encoded from the wire (Rows is nil then, and the
// JSON encoding of the Result, or of the tool output embedding it, writes those bytes).
type Result struct {
	Columns         []Column `json:"columns"`
	Rows            [][]any  `json:"rows"`
	RowCount        int      `json:"row_count"`
	Truncated       bool     `json:"truncated"`
	TruncatedReason string   `json:"truncated_reason,omitempty"`
	// LimitNote says that the limit asked for was above the most rows this server returns, and
	// what it used instead.
	LimitNote string `json:"limit_note,omitempty"`
	// MaskedColumns are the columns whose values were replaced by MaskedValue because their
	// names, or the names of the columns they are computed from, say they are secret
	// (sample_query only).
	MaskedColumns []string `json:"masked_columns,omitempty"`

	rowsJSON []byte // the rows as one JSON array, encoded from the wire (execOptions.encode)
	mark     string // the value of execOptions.mark
}

// resultFields is Result without its methods, for embedding in the encoders' shadow structs.
type resultFields Result

// MarshalJSON writes the Result, with the rows encoded from the wire when it has them.
func (r Result) MarshalJSON() ([]byte, error) { return r.encodeJSON() }

func (r Result) encodeJSON() ([]byte, error) {
	if r.rowsJSON == nil {
		return json.Marshal(resultFields(r))
	}
	r.Rows = nil
	return spliceRows(resultFields(r), r.rowsJSON)
}

// setLocalsSQL sets every transaction-local setting in one statement, with bound values. The
// search path puts <S> before pg_catalog and pg_temp, so an unqualified name can only resolve
// to a relation of <S> (the guard has checked it names a managed relation), never to a
// catalog or temporary relation that shadows it.
const setLocalsSQL = `SELECT set_config('statement_timeout', $1, true),
	set_config('idle_in_transaction_session_timeout', $2, true),
	set_config('search_path', $3, true),
	set_config('DateStyle', 'ISO, MDY', true)`

// statusMark is a statement without parameters returning one text value
// (boundary.StatusMarkSQL), read by the settings statement as its last column: no statement of
// its own per call. localsSQL and localsName (a digest of the text, so that each mark has its
// own prepared statement) are derived once.
type statusMark struct {
	sql        string
	localsSQL  string
	localsName string
}

// newStatusMark returns the mark read by the statement sql, or nil when sql is "".
func newStatusMark(sql string) *statusMark {
	if sql == "" {
		return nil
	}
	locals := setLocalsSQL + ",\n\t(" + strings.TrimSpace(sql) + ")"
	digest := sha256.Sum256([]byte(locals))
	return &statusMark{sql: sql, localsSQL: locals, localsName: stmtLocals + "_" + hex.EncodeToString(digest[:12])}
}

const setTimeoutSQL = `SELECT set_config('statement_timeout', $1, true)`

const typeNamesSQL = `SELECT t.oid::int8, pg_catalog.format_type(t.oid, NULL) FROM pg_catalog.pg_type t WHERE t.oid = ANY($1::pg_catalog.oid[])`

// ExecQuery runs deparsed — the output of [CheckQuery], never raw agent text — as a cursor in a
// READ ONLY transaction on one pooled connection, and returns at most limits.MaxRows rows and
// about limits.MaxBytes of data. It never rewrites the SQL: it binds the query to a portal
// (the protocol-level cursor) and Executes it for at most the rows still needed, in chunks
// sized from the bytes seen so far, so the server never produces rows nobody reads and
// stopping at the byte budget reads at most one more chunk.
//
// Round trips: usually one pipeline (BEGIN READ ONLY; set_config of statement_timeout,
// idle_in_transaction_session_timeout, search_path = <schema>; Bind and Execute of limit+1
// rows; ROLLBACK), more only when the byte budget asks for smaller chunks. Where the pool
// keeps named statements the fixed statements and the query are prepared once per connection
// (the query's plan is reused; at most maxQueryStatements per connection). Everything happens
// inside the transaction with the extended protocol, whatever the pool's exec mode, so it
// works behind PgBouncer in transaction mode and cannot run stacked statements. The
// transaction always ends in ROLLBACK; a connection left in doubt is destroyed, never
// returned to the pool.
//
// Errors are returned wrapped; [AsToolError] maps them (57014 timeout, 42501 not_allowed...).
func ExecQuery(ctx context.Context, pool *pgxpool.Pool, schema, deparsed string, limits Limits) (Result, error) {
	return execQuery(ctx, pool, schema, deparsed, limits, execOptions{prepare: canPrepare(pool)})
}

// execOptions are the executor's internal switches.
type execOptions struct {
	// prepare runs the fixed statements (BEGIN READ ONLY, the settings, ROLLBACK) as named
	// prepared statements, prepared once per connection: the server parses and plans them
	// once. Only where the pool keeps named statements (see canPrepare).
	prepare bool
	// encode encodes the rows straight into JSON (Result.rowsJSON) instead of Go values.
	encode bool
	// mark, when set, reads a value inside the transaction before the query, in the same
	// statement as the settings (see newStatusMark); its value is Result.mark.
	mark *statusMark
	// params are the values of $1… in the query (text format; nil is NULL), bound as the
	// types paramOIDs: a declared tool's arguments (sqltool.go). Values, never SQL text.
	params    [][]byte
	paramOIDs []uint32
	// mask, when set, names the output columns whose values come back as MaskedValue (NULL
	// stays null): sample_query's secret-named columns (secretscan.SecretColumn).
	mask func(column string) bool
}

// canPrepare reports whether pool's connections may hold named prepared statements: pgx's
// default exec mode caches them per connection; the other modes are chosen for poolers that
// do not carry them across transactions (PgBouncer transaction pooling, RuntimeOptions.Pooler).
func canPrepare(pool *pgxpool.Pool) bool {
	return pool.Config().ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement
}

// Names of the executor's prepared statements (one set per connection).
const (
	stmtBegin    = "agentmv_begin_ro"
	stmtLocals   = "agentmv_set_locals"
	stmtRollback = "agentmv_rollback"
)

var fixedStatements = [...]struct{ name, sql string }{
	{stmtBegin, "BEGIN READ ONLY"},
	{stmtLocals, setLocalsSQL},
	{stmtRollback, "ROLLBACK"},
}

func execQuery(ctx context.Context, pool *pgxpool.Pool, schema, deparsed string, limits Limits, opts execOptions) (Result, error) {
	limits = limits.withDefaults()
	if schema == "" {
		return Result{}, fmt.Errorf("exec query: empty schema; pass the target schema (default agent_mv)")
	}
	if strings.TrimSpace(deparsed) == "" {
		return Result{}, NewError(ErrInvalidArgument, "empty query", "send one SELECT statement")
	}
	start := time.Now()
	// The server enforces the statement budget; this deadline only catches a stalled network.
	ctx, cancel := context.WithTimeout(ctx, limits.StatementTimeout+limits.IdleInTxTimeout)
	defer cancel()

	pc, err := pool.Acquire(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("exec query: acquire connection: %w", err)
	}
	defer pc.Release() // destroys the connection if it is still in a transaction or busy
	conn := pc.Conn().PgConn()
	var res Result
	for attempt := 0; ; attempt++ {
		r := &cursorReader{conn: conn, tm: pc.Conn().TypeMap(), schema: schema, limits: limits, start: start, opts: opts}
		if opts.prepare {
			if err := r.prepareFixed(ctx, pc.Conn()); err != nil {
				return Result{}, err
			}
		}
		sctx, span := childSpan(ctx, "postgresql cursor", deparsed)
		res, err = r.run(sctx, deparsed)
		if span != nil {
			endChildSpan(span, err, attribute.Int("db.response.returned_rows", res.RowCount))
		}
		if err == nil {
			return res, nil
		}
		r.abort(ctx)
		if attempt > 0 || !opts.prepare || !isStaleStatement(err) || conn.IsClosed() {
			return Result{}, fmt.Errorf("exec query: %w", err)
		}
		// A prepared statement no longer fits (a view was rebuilt with other columns under
		// the query's cached plan) or is gone (someone deallocated the connection's
		// statements): forget them and prepare again, once.
		if derr := pc.Conn().DeallocateAll(ctx); derr != nil {
			return Result{}, fmt.Errorf("exec query: %w", err)
		}
		delete(conn.CustomData(), stmtCacheKey)
	}
}

// prepareFixed prepares the fixed statements and the settings statement reading the status mark
// on the connection: a round trip only the first time (pgx keeps them by name).
func (r *cursorReader) prepareFixed(ctx context.Context, c *pgx.Conn) error {
	for _, st := range fixedStatements {
		if _, err := c.Prepare(ctx, st.name, st.sql); err != nil {
			return fmt.Errorf("exec query: prepare %s: %w", st.name, err)
		}
	}
	if m := r.opts.mark; m != nil {
		if _, err := c.Prepare(ctx, m.localsName, m.localsSQL); err != nil {
			return fmt.Errorf("exec query: prepare the settings and status mark: %w", err)
		}
	}
	return nil
}

// forLimit returns l for a caller asking for at most asked rows: MaxRows lowered to asked when
// 0 < asked < MaxRows, and, when asked is above MaxRows, l unchanged with a note saying the
// limit was capped (for [Result.LimitNote]). asked <= 0 means no limit of the caller's own.
func (l Limits) forLimit(asked int) (Limits, string) {
	switch {
	case asked > l.MaxRows:
		return l, fmt.Sprintf("limit %d is above the most rows this server returns (%d): at most %d rows were fetched; filter or aggregate to see more", asked, l.MaxRows, l.MaxRows)
	case asked > 0:
		l.MaxRows = asked
	}
	return l, ""
}

func (l Limits) withDefaults() Limits {
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.StatementTimeout <= 0 {
		l.StatementTimeout = DefaultQueryStatementTimeout
	}
	if l.IdleInTxTimeout <= 0 {
		l.IdleInTxTimeout = DefaultQueryIdleInTxTimeout
	}
	return l
}

// errConnDropped reports that consume closed the connection instead of draining a chunk
// past the byte budget; the rows kept so far are a valid truncated result.
var errConnDropped = errors.New("connection dropped instead of draining")

type cursorReader struct {
	conn   *pgconn.PgConn
	tm     *pgtype.Map
	schema string
	limits Limits
	start  time.Time
	opts   execOptions

	fields    []pgconn.FieldDescription // the portal's columns
	enc       *rowsEncoder              // opts.encode: the rows kept, as JSON
	stmt      string                    // the query's prepared statement ("" = unnamed)
	mark      string
	unknown   []uint32 // OIDs the type map cannot name
	masked    []bool   // opts.mask: which columns are masked (nil: none)
	typeNames map[uint32]string
	rows      [][]any // !opts.encode: the rows kept, as Go values
	kept      int     // rows kept
	used      int     // bytes of the rows kept
	seenRows  int     // rows read from the server (kept or not), for the size estimate
	seenBytes int
	discarded int  // bytes of the rows read past the budget
	exhausted bool // the portal ran to completion
	truncated string
}

func ms(d time.Duration) []byte {
	v := d.Milliseconds()
	if v < 1 {
		v = 1 // 0 would mean "no limit"
	}
	return []byte(strconv.FormatInt(v, 10))
}

func (r *cursorReader) run(ctx context.Context, deparsed string) (Result, error) {
	need := r.limits.MaxRows + 1
	n := r.chunk(need)
	p := r.newPipeline()
	parse := r.queryStatement(p, deparsed) // may queue a Close first
	r.fixed(p, stmtBegin, nil)
	locals := [][]byte{
		ms(r.limits.StatementTimeout),
		ms(r.limits.IdleInTxTimeout),
		[]byte(r.searchPath()),
	}
	switch m := r.opts.mark; {
	case m != nil && r.opts.prepare:
		p.exec(m.localsName, "", locals, stepMark)
	case m != nil:
		p.exec("", m.localsSQL, locals, stepMark)
	default:
		r.fixed(p, stmtLocals, locals)
	}
	r.open(p, deparsed, parse, n)
	final := n == need
	if final { // the usual case: one round trip in all
		r.fixed(p, stmtRollback, nil)
	}
	err := r.send(ctx, p)
	for err == nil && !final {
		p := r.newPipeline()
		fetching := false
		need := r.limits.MaxRows + 1 - r.kept
		n = 0
		if !r.exhausted && r.truncated == "" && need > 0 {
			remaining := r.limits.StatementTimeout - time.Since(r.start)
			if remaining <= 0 {
				return Result{}, &ToolError{ErrorType: ErrTimeout,
					Message: fmt.Sprintf("the query used its whole time budget (%s)", r.limits.StatementTimeout),
					Hint:    "make the query cheaper (filter, aggregate, select fewer columns) or ask for fewer rows"}
			}
			// The budget covers every Execute together, not each one.
			p.exec("", setTimeoutSQL, [][]byte{ms(remaining)}, stepExec)
			n = r.chunk(need)
			p.fetch(n)
			fetching = true
		}
		final = !fetching || n == need
		if final {
			r.fixed(p, stmtRollback, nil)
		}
		err = r.send(ctx, p)
	}
	if errors.Is(err, errConnDropped) {
		return r.result(), nil
	}
	if err != nil {
		return Result{}, err
	}
	if len(r.unknown) > 0 {
		r.lookupTypeNames(ctx)
	}
	return r.result(), nil
}

func (r *cursorReader) searchPath() string { return executorSearchPath(r.schema) }

// executorSearchPath is the search_path a query runs with: schema, then pg_catalog and pg_temp.
func executorSearchPath(schema string) string {
	return pgx.Identifier{schema}.Sanitize() + ", pg_catalog, pg_temp"
}

// chunk sizes the next Execute: all the rows still needed when the byte budget allows it by
// the average row size so far (assumed 256 bytes before the first row), else about as many
// rows as should fit, plus one. Rows read past the budget are discarded, and the connection
// is dropped rather than drained once they exceed the budget again, so a wrong guess costs at
// most MaxBytes of extra transfer.
func (r *cursorReader) chunk(need int) int {
	avg := 256
	if r.seenRows > 0 {
		avg = max(1, r.seenBytes/r.seenRows)
	}
	fit := (r.limits.MaxBytes-r.used)/avg + 1
	return max(1, min(need, fit))
}

// row takes one row of the portal. It keeps rows until MaxRows+1 is reached (the extra row
// only proves truncation) or the byte budget would be crossed; after that it discards the
// rest of the chunk, and if that too exceeds the budget it closes the connection rather than
// download it.
func (r *cursorReader) row(vals [][]byte) error {
	size := len(vals)
	for _, v := range vals {
		size += len(v)
	}
	r.seenRows++
	r.seenBytes += size
	if r.truncated != "" {
		r.discarded += size
		if r.discarded > r.limits.MaxBytes {
			// Draining would download more than the budget again: drop the connection.
			r.closeConn(context.Background())
			return errConnDropped
		}
		return nil
	}
	if r.kept == r.limits.MaxRows {
		r.truncated = TruncatedMaxRows
		return nil
	}
	if r.used+size > r.limits.MaxBytes {
		r.truncated = TruncatedMaxBytes
		r.discarded = 0
		return nil
	}
	if r.enc != nil {
		if err := r.enc.add(vals, r.columnName); err != nil {
			return err
		}
	} else {
		row, err := r.decodeRow(vals)
		if err != nil {
			return err
		}
		r.rows = append(r.rows, row)
	}
	r.kept++
	r.used += size
	return nil
}

// lookupTypeNames names the column types pgx does not know (enums, extension types) after the
// transaction ended; on failure the columns keep "oid N" names.
func (r *cursorReader) lookupTypeNames(ctx context.Context) {
	res := r.conn.ExecParams(ctx, typeNamesSQL, [][]byte{oidArray(r.unknown)}, nil, nil, nil).Read()
	if res.Err != nil {
		return
	}
	r.typeNames = map[uint32]string{}
	for _, v := range res.Rows {
		oid, err := strconv.ParseUint(string(v[0]), 10, 32)
		if err == nil {
			r.typeNames[uint32(oid)] = string(v[1])
		}
	}
}

func oidArray(oids []uint32) []byte {
	parts := make([]string, len(oids))
	for i, o := range oids {
		parts[i] = strconv.FormatUint(uint64(o), 10)
	}
	return []byte("{" + strings.Join(parts, ",") + "}")
}

func (r *cursorReader) result() Result {
	res := Result{Columns: make([]Column, len(r.fields)), Rows: r.rows, RowCount: r.kept, mark: r.mark}
	switch {
	case r.opts.encode && r.enc != nil:
		res.Rows, res.rowsJSON = nil, r.enc.bytes()
	case r.opts.encode:
		res.Rows, res.rowsJSON = nil, []byte("[]")
	case res.Rows == nil:
		res.Rows = [][]any{}
	}
	for i, f := range r.fields {
		name := ""
		if t, ok := r.tm.TypeForOID(f.DataTypeOID); ok {
			name = t.Name
		} else if n, ok := r.typeNames[f.DataTypeOID]; ok {
			name = n
		} else {
			name = "oid " + strconv.FormatUint(uint64(f.DataTypeOID), 10)
		}
		res.Columns[i] = Column{Name: f.Name, Type: name}
		if r.masked != nil && r.masked[i] {
			res.MaskedColumns = append(res.MaskedColumns, f.Name)
		}
	}
	if r.truncated != "" {
		res.Truncated = true
		res.TruncatedReason = r.truncated
	}
	return res
}

// abort ends the transaction after a failure, or leaves the connection for Release to destroy
// when it cannot be trusted (closed, busy or the ROLLBACK failed).
func (r *cursorReader) abort(ctx context.Context) {
	if r.conn.IsClosed() || r.conn.IsBusy() || r.conn.TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := r.conn.Exec(rctx, "ROLLBACK").Close(); err != nil {
		r.conn.Close(rctx)
	}
}
