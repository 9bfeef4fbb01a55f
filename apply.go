package agentmv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentmv/agentmv/boundary"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun executes every statement in the transaction and then rolls it back: it proves the
	// plan works without changing anything (the YAML is not written either).
	DryRun bool
	// Confirm, when set, is called with the plan computed inside the apply transaction before
	// anything is changed; returning false aborts with ErrNotConfirmed. The CLI shows the plan
	// and asks first, outside the transaction, then passes Expect instead.
	Confirm func(*Plan) bool
	// Expect, when set, is the fingerprint of a plan the operator already confirmed (see
	// Plan.Fingerprint). If the database changed meanwhile and the plan differs, Apply aborts.
	Expect string
	// LockTimeout bounds every lock wait of the apply, including waiting for another apply.
	// Default 10s.
	LockTimeout time.Duration
	// RotatePassword sets the runtime role's password, and each agent role's password that is
	// set (Settings.AgentPasswords), even when the role exists.
	RotatePassword bool
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	Plan      *Plan           `json:"plan"`
	Bootstrap boundary.Result `json:"bootstrap"`
	Drift     []DriftWarning  `json:"drift,omitempty"`
	// Agents says what changed about the agents' roles (materialize.yaml's agents).
	Agents boundary.AgentChanges `json:"agents"`
	// CronJobs lists the pg_cron jobs apply created, rescheduled or removed (scheduler: pg_cron).
	CronJobs []string            `json:"cron_jobs,omitempty"`
	DryRun   bool                `json:"dry_run"`
	Sources  map[string][]string `json:"sources"`
	Elapsed  time.Duration       `json:"elapsed_ns"`
	// Exposures are the doctor's whole-database probes run after the apply that found a path
	// by which the runtime role can still reach data (✗), each finding with its fix. Apply
	// does not change other roles' rights to remove them; doctor also shows its warnings.
	Exposures []boundary.Check `json:"exposures,omitempty"`
}

// DriftWarning reports a difference between agentmv's parsed lineage and what Postgres
// recorded in pg_depend for a view.
type DriftWarning struct {
	View       string   `json:"view"`
	OnlyParsed []string `json:"only_parsed,omitempty"`
	OnlyPg     []string `json:"only_pg_depend,omitempty"`
}

func (d DriftWarning) String() string {
	return fmt.Sprintf("lineage mismatch for view '%s': only in agentmv's parse %v, only in pg_depend %v", d.View, d.OnlyParsed, d.OnlyPg)
}

// Errors of Apply.
var (
	ErrNotConfirmed  = errors.New("apply aborted: changes not confirmed")
	ErrPlanChanged   = errors.New("apply aborted: the database changed since the plan was shown; run `agent-mv plan` again")
	ErrApplyRunning  = boundary.ErrApplyRunning
	errApplyRollback = errors.New("dry run: rolled back")
)

// Apply makes the database match materialize.yaml in one transaction, under an advisory lock:
// bootstrap or upgrade agentmv's objects, drop removed and changed views (dependents first),
// create new and changed ones (dependencies first) with their indexes, registry rows, lineage
// and grants, then cross-check the lineage with pg_depend. Any error rolls everything back.
// After the commit it writes each view's sources back to materialize.yaml (once).
func (p *Project) Apply(ctx context.Context, opts ApplyOptions) (*ApplyResult, error) {
	start := time.Now()
	pool, err := p.AdminPool(ctx)
	if err != nil {
		return nil, err
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 10 * time.Second
	}
	n := p.Names()
	res := &ApplyResult{DryRun: opts.DryRun}
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_catalog.set_config('lock_timeout', $1, true)", fmt.Sprintf("%dms", opts.LockTimeout.Milliseconds())); err != nil {
			return fmt.Errorf("set lock_timeout: %w", err)
		}
		if err := boundary.TakeApplyLock(ctx, tx, n); err != nil {
			return err
		}
		boot, err := boundary.Bootstrap(ctx, tx, n, p.settings.RuntimePassword, &boundary.BootstrapOptions{
			RotatePassword:        opts.RotatePassword,
			RevokePublicTemporary: p.cfg.PublicPrivileges.RevokeTemporary,
			RevokePublicCreate:    p.cfg.PublicPrivileges.RevokeCreateOnPublicSchema,
			Limits:                p.roleLimits(),
		})
		if err != nil {
			return fmt.Errorf("bootstrap %s: %w", n.Schema, err)
		}
		res.Bootstrap = boot
		plan, err := p.plan(ctx, tx)
		if err != nil {
			return err
		}
		res.Plan = plan
		if len(plan.Blockers) > 0 {
			return &BlockedError{Blockers: plan.Blockers}
		}
		// A different plan than the one confirmed is refused, unless it changes nothing (e.g.
		// another apply just did the same work while this one waited for the lock).
		if opts.Expect != "" && opts.Expect != plan.Fingerprint() && plan.Changes() {
			return ErrPlanChanged
		}
		if opts.Confirm != nil && !opts.Confirm(plan) {
			return ErrNotConfirmed
		}
		if err := p.execute(ctx, tx, plan); err != nil {
			return err
		}
		drift, err := p.crossCheck(ctx, tx, plan)
		if err != nil {
			return err
		}
		res.Drift = drift
		for _, d := range drift {
			p.logger.Warn(d.String())
		}
		// After the views exist (a rebuilt view lost its grants): each agent's role reads
		// exactly its views.
		if res.Agents, err = boundary.SyncAgents(ctx, tx, n, p.agents(), boundary.SyncAgentsOptions{RotatePasswords: opts.RotatePassword, Limits: p.roleLimits()}); err != nil {
			return fmt.Errorf("agents: %w", err)
		}
		if res.CronJobs, err = boundary.SyncCronJobs(ctx, tx, n, p.cfg.Scheduler == SchedulerPgCron, p.cfg.schedules()); err != nil {
			return err
		}
		if opts.DryRun {
			return errApplyRollback
		}
		return nil
	})
	res.Elapsed = time.Since(start)
	if err == nil || errors.Is(err, errApplyRollback) {
		res.Exposures = p.exposures(ctx, pool)
	}
	if errors.Is(err, errApplyRollback) {
		return res, nil
	}
	if err != nil {
		return res, explainApplyError(err)
	}
	res.Sources = sourcesOf(res.Plan)
	err = p.cfg.WriteSources(res.Sources)
	if errors.Is(err, ErrConfigChanged) {
		// Edited meanwhile (e.g. by a concurrent apply's write-back): the database is the
		// truth, so write the sources into the file as it is now, if it still loads.
		if fresh, lerr := LoadConfig(p.cfg.Path); lerr == nil {
			if err = fresh.WriteSources(res.Sources); err == nil {
				p.cfg = fresh
			}
		}
	}
	if err != nil {
		return res, fmt.Errorf("the database changes are committed, but writing sources back to %s failed: %w; re-run `agent-mv apply` (a no-op for the database) to retry", p.cfg.Path, err)
	}
	return res, nil
}

// explainApplyError adds what to do next to database errors.
func explainApplyError(err error) error {
	var blocked *BlockedError
	if errors.As(err, &blocked) || errors.Is(err, ErrApplyRunning) || errors.Is(err, ErrPlanChanged) || errors.Is(err, ErrNotConfirmed) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "55P03":
			return fmt.Errorf("%w (a lock wait exceeded lock_timeout: a long query or another session holds a lock on a view or table apply needs; nothing was changed — retry when it finishes)", err)
		case "42501":
			return fmt.Errorf("%w (the admin role lacks a privilege; DATABASE_URL must be a superuser or own the base tables and have CREATEROLE; nothing was changed)", err)
		}
	}
	return fmt.Errorf("%w (nothing was changed: apply runs in one transaction)", err)
}

// execute runs the plan's DDL in tx.
func (p *Project) execute(ctx context.Context, tx pgx.Tx, plan *Plan) error {
	n := p.Names()
	steps := map[string]Step{}
	for _, s := range plan.Steps {
		steps[s.View] = s
	}
	for _, v := range plan.DropOrder {
		strategy := boundary.StrategyFull
		if r := steps[v].recorded; r != nil {
			strategy = r.Strategy()
		}
		if err := boundary.DropManagedView(ctx, tx, n, v, strategy); err != nil {
			return fmt.Errorf("drop view %s: %w", v, err)
		}
		if steps[v].Action == ActionDrop {
			if err := boundary.DeleteView(ctx, tx, n, v); err != nil {
				return fmt.Errorf("unregister view %s: %w", v, err)
			}
		}
	}
	// The owner role may read exactly the base relations the views read.
	var rels []boundary.Relation
	seen := map[string]bool{}
	for _, s := range plan.Steps {
		for _, r := range s.Tables {
			if k := r.String(); !seen[k] {
				seen[k] = true
				rels = append(rels, r)
			}
		}
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].String() < rels[j].String() })
	if _, err := boundary.GrantSourcesToOwner(ctx, tx, n, rels); err != nil {
		return fmt.Errorf("grant the owner role SELECT on the views' base tables: %w", err)
	}
	for _, v := range plan.CreateOrder {
		s := steps[v]
		started := time.Now()
		var rows int64
		var err error
		if s.Strategy == boundary.StrategyIncremental {
			rows, err = p.createIncremental(ctx, tx, s)
		} else {
			rows, err = boundary.CreateViewRows(ctx, tx, n, v, s.body, s.Indexes)
		}
		if err != nil {
			return fmt.Errorf("create view %s (%s): %w", v, viewFile(p.cfg, v), err)
		}
		// The view was loaded WITH DATA: that is its first refresh, for status and freshness.
		if err := boundary.RecordCreated(ctx, tx, n, v, started, rows); err != nil {
			return err
		}
	}
	for _, s := range plan.Steps {
		switch s.Action {
		case ActionDrop:
			continue
		case ActionReindex:
			if err := p.reindex(ctx, tx, s); err != nil {
				return err
			}
		}
		// An identical row is left as it is (UpsertView's own rule), without a round trip per
		// view: a no-op apply of hundreds of views writes nothing and asks little.
		if s.recorded == nil || !boundary.SameRecord(*s.recorded, s.record) {
			if err := boundary.UpsertView(ctx, tx, n, s.record); err != nil {
				return fmt.Errorf("register view %s: %w", s.View, err)
			}
		}
		if s.Action != ActionUnchanged {
			if err := boundary.SetComments(ctx, tx, n, s.View, s.record.Description, s.columnDescriptions); err != nil {
				return fmt.Errorf("comment on view %s (%s line %d): %w", s.View, p.cfg.Path, viewLine(p.cfg, s.View), err)
			}
		}
		if s.reused && !s.lineageStale {
			continue // lineage unchanged: the file is byte-identical to the last apply
		}
		var tables []string
		for _, r := range s.Tables {
			tables = append(tables, r.String())
		}
		if err := boundary.ReplaceLineage(ctx, tx, n, s.View, tables, s.Upstream); err != nil {
			return fmt.Errorf("record lineage of %s: %w", s.View, err)
		}
		if s.reused {
			continue // only relation names changed (a rename); column lineage keeps the old names
		}
		if err := boundary.ReplaceColumnLineage(ctx, tx, n, s.View, s.Columns); err != nil {
			return fmt.Errorf("record column lineage of %s: %w", s.View, err)
		}
	}
	for _, t := range plan.Tools {
		var err error
		switch t.Action {
		case ToolAdd, ToolChange:
			err = boundary.UpsertTool(ctx, tx, n, t.record)
		case ToolRemove:
			err = boundary.DeleteTool(ctx, tx, n, t.Tool)
		}
		if err != nil {
			return fmt.Errorf("record the declared tools: %w", err)
		}
	}
	// No capture is left on a table no incremental view needs.
	if _, err := boundary.SweepCapture(ctx, tx, n); err != nil {
		return fmt.Errorf("remove change capture no view needs: %w", err)
	}
	return nil
}

// reindex replaces only the indexes whose definition changed.
func (p *Project) reindex(ctx context.Context, tx pgx.Tx, s Step) error {
	n := p.Names()
	var recorded []boundary.Index
	if s.recorded != nil {
		recorded = s.recorded.Indexes
	}
	removed, added := indexDiff(recorded, s.Indexes, s.View)
	for _, ix := range removed {
		name := indexName(s.View, ix)
		if err := boundary.DropIndex(ctx, tx, n, name); err != nil {
			return fmt.Errorf("drop index %s of %s: %w", name, s.View, err)
		}
	}
	for _, ix := range added {
		if err := boundary.CreateIndex(ctx, tx, n, s.View, ix); err != nil {
			return fmt.Errorf("create index on %s: %w", s.View, err)
		}
	}
	return nil
}

// crossCheck compares the parsed lineage of each view created in this apply with pg_depend.
// Views left in place are skipped: a materialized view's dependencies are fixed when it is
// created, so they were checked by the apply that created them.
func (p *Project) crossCheck(ctx context.Context, tx pgx.Tx, plan *Plan) ([]DriftWarning, error) {
	n := p.Names()
	var out []DriftWarning
	for _, s := range plan.Steps {
		switch s.Action {
		case ActionCreate, ActionRebuild, ActionRebuildUpstream:
		default:
			continue
		}
		rel := s.View
		if s.Strategy == boundary.StrategyIncremental {
			rel = n.IncrementalObjectsOf(s.View, nil).Def // its dependencies are its defining view's
		}
		pg, err := boundary.CatalogSources(ctx, tx, n.Schema, rel)
		if err != nil {
			return nil, fmt.Errorf("cross-check lineage of %s with pg_depend: %w", s.View, err)
		}
		ours := map[string]bool{}
		for _, r := range s.Tables {
			ours[r.String()] = true
		}
		for _, u := range s.Upstream {
			ours[n.Schema+"."+u] = true
		}
		theirs := map[string]bool{}
		for _, r := range pg {
			theirs[r.Schema+"."+r.Name] = true
		}
		var d DriftWarning
		for _, k := range slices.Sorted(maps.Keys(ours)) {
			if !theirs[k] {
				d.OnlyParsed = append(d.OnlyParsed, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(theirs)) {
			if !ours[k] {
				d.OnlyPg = append(d.OnlyPg, k)
			}
		}
		if len(d.OnlyParsed)+len(d.OnlyPg) > 0 {
			d.View = s.View
			out = append(out, d)
		}
	}
	return out, nil
}

// sourcesOf is the YAML sources list per view: base relations as schema.table and managed
// views as <schema>.<view>, sorted (the seed's format).
func sourcesOf(plan *Plan) map[string][]string {
	out := map[string][]string{}
	if plan == nil {
		return out
	}
	for _, s := range plan.Steps {
		if s.Action == ActionDrop {
			continue
		}
		list := []string{}
		for _, r := range s.Tables {
			list = append(list, r.String())
		}
		for _, u := range s.Upstream {
			list = append(list, plan.Schema+"."+u)
		}
		sort.Strings(list)
		out[s.View] = list
	}
	return out
}

func viewLine(cfg *Config, view string) int {
	v, _ := cfg.View(view)
	return v.Line
}

func viewFile(cfg *Config, view string) string {
	if v, ok := cfg.View(view); ok {
		return v.SQLFile
	}
	return "?"
}

// exposures runs the doctor's whole-database probes for the runtime role and each agent's
// role and keeps the checks that found something. A probe that fails is logged, not
// returned: the apply itself is done.
func (p *Project) exposures(ctx context.Context, q boundary.Reader) []boundary.Check {
	opts := boundary.ExposureOptions{AllowSecurityDefiner: p.cfg.RuntimeRole.AllowSecurityDefiner}
	checks, err := boundary.Exposures(ctx, q, p.Names(), p.Names().RuntimeRole, opts)
	for _, a := range p.cfg.Agents {
		if err != nil {
			break
		}
		var ac []boundary.Check
		ac, err = boundary.AgentExposures(ctx, q, p.Names(), a.Name, opts)
		checks = append(checks, ac...)
	}
	if err != nil {
		p.logger.Warn("could not check the runtime and agent roles' other paths to data; run `agent-mv doctor`", "error", err)
		return nil
	}
	var out []boundary.Check
	for _, c := range checks {
		if c.Status == boundary.CheckFail {
			out = append(out, c)
		}
	}
	return out
}

// agents are the configured agents as boundary.SyncAgents takes them, with their passwords.
func (p *Project) agents() []boundary.Agent {
	out := make([]boundary.Agent, 0, len(p.cfg.Agents))
	for _, a := range p.cfg.Agents {
		out = append(out, boundary.Agent{Name: a.Name, Description: a.Description, Views: a.Views, Password: p.settings.AgentPasswords[a.Name]})
	}
	return out
}
