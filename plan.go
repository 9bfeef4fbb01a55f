package agentmv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/lineage"
)

// Action is what apply does to one view.
type Action string

// The actions of a plan.
const (
	ActionCreate          Action = "create"           // new view
	ActionRebuild         Action = "rebuild"          // its SQL changed: drop and create
	ActionRebuildUpstream Action = "rebuild_upstream" // unchanged, but an upstream view is rebuilt
	ActionReindex         Action = "reindex"          // only its indexes changed: no rebuild
	ActionUpdate          Action = "update"           // only registry metadata changed (description, intervals)
	ActionDrop            Action = "drop"             // no longer in materialize.yaml
	ActionUnchanged       Action = "unchanged"
)

// Step is the plan for one view.
type Step struct {
	View   string `json:"view"`
	Action Action `json:"action"`
	Reason string `json:"reason"`

	// Desired state (empty for drops).
	Hash     string                `json:"sql_hash,omitempty"`
	Tables   []boundary.Relation   `json:"tables,omitempty"`
	Upstream []string              `json:"upstream,omitempty"`
	Columns  []boundary.ColumnEdge `json:"-"`
	Indexes  []boundary.Index      `json:"indexes,omitempty"`
	// IndexesRemoved and IndexesAdded name the indexes this step drops and creates compared
	// with the last apply (a rebuild or reindex; a dropped view loses all of them).
	IndexesRemoved []string `json:"indexes_removed,omitempty"`
	IndexesAdded   []string `json:"indexes_added,omitempty"`
	// Refresh is how refresh_view will refresh the view once the plan is applied (nil for
	// drops): CONCURRENTLY or blocking readers, or incremental, and why.
	Refresh *boundary.RefreshMode `json:"refresh,omitempty"`
	// RefreshEvery is the view's schedule (refresh_every), empty when it has none.
	RefreshEvery string `json:"refresh_every,omitempty"`
	// Strategy is the view's refresh_strategy after the apply ("full" or "incremental").
	Strategy string `json:"refresh_strategy,omitempty"`
	body     string
	// analysis is the parsed view (nil when reused): incremental views are qualified and
	// their maintenance SQL written from it when they are created.
	analysis *lineage.Analysis
	// reused: the SQL file is byte-identical to the last apply, so its lineage comes from the
	// catalog instead of parsing it; body is filled in only if the view must be rebuilt.
	reused bool
	// lineageStale: reused, but the recorded lineage rows name relations since renamed.
	lineageStale bool
	record       boundary.ViewRecord
	recorded     *boundary.ViewRecord
	// columnDescriptions are materialize.yaml's column meanings, kept as column comments
	// (with record.Description as the view's comment).
	columnDescriptions map[string]string
}

// Blocker is an object agentmv does not manage that depends on a view the plan must drop.
type Blocker struct {
	View      string `json:"view"`
	Dependent string `json:"dependent"`
}

// Plan is the difference between materialize.yaml and the database.
type Plan struct {
	Schema string `json:"schema"`
	Steps  []Step `json:"steps"` // one per view, sorted by name
	// DropOrder lists the views to drop (removed and rebuilt), dependents first.
	DropOrder []string `json:"drop_order"`
	// CreateOrder lists the views to create (new and rebuilt), dependencies first.
	CreateOrder []string  `json:"create_order"`
	Blockers    []Blocker `json:"blockers,omitempty"`
	// InstalledVersion of agentmv's own objects (0 = not installed yet).
	InstalledVersion int `json:"installed_version"`
	// Tools are the declared tools (materialize.yaml's tools:) and the ones the last apply
	// recorded: added, changed, removed or unchanged, sorted by name.
	Tools []ToolStep `json:"tools,omitempty"`
}

// Step returns the step of a view.
func (p *Plan) Step(view string) (Step, bool) {
	for _, s := range p.Steps {
		if s.View == view {
			return s, true
		}
	}
	return Step{}, false
}

// Changes reports whether applying the plan changes any view or declared tool.
func (p *Plan) Changes() bool {
	if p.toolsChange() {
		return true
	}
	for _, s := range p.Steps {
		if s.Action != ActionUnchanged {
			return true
		}
	}
	return false
}

// Count returns how many steps have the action.
func (p *Plan) Count(a Action) int {
	n := 0
	for _, s := range p.Steps {
		if s.Action == a {
			n++
		}
	}
	return n
}

// Drops lists the views the plan removes for good (not rebuilt).
func (p *Plan) Drops() []string {
	var out []string
	for _, s := range p.Steps {
		if s.Action == ActionDrop {
			out = append(out, s.View)
		}
	}
	return out
}

// Fingerprint identifies the plan's decisions, so Apply can refuse to run a different plan
// from the one the operator confirmed.
func (p *Plan) Fingerprint() string {
	h := sha256.New()
	for _, s := range p.Steps {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%v\x00%v\n", s.View, s.Action, s.Hash, s.IndexesRemoved, s.IndexesAdded)
	}
	for _, s := range p.Tools {
		fmt.Fprintf(h, "tool\x00%s\x00%s\x00%s\n", s.Tool, s.Action, s.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BlockedError is returned when unmanaged objects depend on views that must be dropped.
type BlockedError struct{ Blockers []Blocker }

func (e *BlockedError) Error() string {
	var parts []string
	for _, b := range e.Blockers {
		parts = append(parts, fmt.Sprintf("%s depends on %s", b.Dependent, b.View))
	}
	return "apply needs to drop views that objects agentmv does not manage depend on: " + strings.Join(parts, "; ") +
		". Nothing was changed. Drop or change those objects first (or add them to materialize.yaml), then re-run apply"
}

// String renders the plan for people.
func (p *Plan) String() string {
	var b strings.Builder
	symbol := map[Action]string{ActionCreate: "+", ActionRebuild: "~", ActionRebuildUpstream: "~",
		ActionReindex: "~", ActionUpdate: "~", ActionDrop: "-", ActionUnchanged: "="}
	for _, s := range p.Steps {
		reason := s.Reason
		if s.RefreshEvery != "" && s.Action != ActionDrop {
			reason = strings.TrimPrefix(reason+"; refreshed every "+s.RefreshEvery, "; ")
		}
		fmt.Fprintf(&b, "  %s %-28s %-17s %s\n", symbol[s.Action], s.View, s.Action, reason)
	}
	for _, s := range p.Steps {
		if s.Refresh != nil && !s.Refresh.Concurrent && declaresUnique(s.Indexes) && s.Refresh.Reason != boundary.ReasonNotPopulated {
			fmt.Fprintf(&b, "  ! %s refreshes block readers: %s\n", s.View, s.Refresh.Reason)
		}
	}
	for _, bl := range p.Blockers {
		fmt.Fprintf(&b, "  ✗ %s depends on %s.%s and is not managed by agentmv\n", bl.Dependent, p.Schema, bl.View)
	}
	p.writeTools(&b)
	fmt.Fprintf(&b, "Plan: %d to create, %d to rebuild, %d to reindex, %d to update, %d to drop, %d unchanged.\n",
		p.Count(ActionCreate), p.Count(ActionRebuild)+p.Count(ActionRebuildUpstream), p.Count(ActionReindex),
		p.Count(ActionUpdate), p.Count(ActionDrop), p.Count(ActionUnchanged))
	if t := p.toolsSummary(true); t != "" {
		b.WriteString(t + "\n")
	}
	if removed := p.RemovedIndexes(); len(removed) > 0 {
		noun := "index"
		if len(removed) > 1 {
			noun = "indexes"
		}
		fmt.Fprintf(&b, "⚠ This plan removes %d %s: %s.\n", len(removed), noun, strings.Join(removed, ", "))
	}
	return b.String()
}

// Done says what applying the plan did, for apply's summary line: "2 created or rebuilt,
// 1 reindexed, 0 updated, 1 dropped", then "; tools: 1 added, 0 changed, 0 removed" when
// materialize.yaml declares tools (or the last apply recorded some).
func (p *Plan) Done() string {
	done := fmt.Sprintf("%d created or rebuilt, %d reindexed, %d updated, %d dropped",
		len(p.CreateOrder), p.Count(ActionReindex), p.Count(ActionUpdate), p.Count(ActionDrop))
	if t := p.toolsSummary(false); t != "" {
		done += "; " + t
	}
	return done
}

// RemovedIndexes lists, as "index on view", every index the plan removes from a view that
// stays (rebuilt or reindexed without it). Dropped views are listed as drops, not here.
func (p *Plan) RemovedIndexes() []string {
	var out []string
	for _, s := range p.Steps {
		for _, ix := range s.IndexesRemoved {
			out = append(out, ix+" on "+s.View)
		}
	}
	return out
}

// Plan compares materialize.yaml with the database and says what Apply would do. It changes
// nothing (it runs in a transaction that is rolled back).
func (p *Project) Plan(ctx context.Context) (*Plan, error) {
	pool, err := p.AdminPool(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("plan: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	return p.plan(ctx, tx)
}

// recordedState is what the database says about managed views.
type recordedState struct {
	version  int
	registry map[string]boundary.ViewRecord
	// exists: the view's relation is in <S> with the relkind of its recorded strategy (for a
	// name not registered: a materialized view, which apply replaces).
	exists map[string]bool
	// capture: what is wrong with a registered incremental view's change capture.
	capture  map[string]string
	comments map[string]boundary.ViewComments
	// tools are the declared tools the last apply recorded (none before schema version 10).
	tools []boundary.ToolRecord
}

func (p *Project) readRecorded(ctx context.Context, tx pgx.Tx) (recordedState, error) {
	n := p.Names()
	st := recordedState{registry: map[string]boundary.ViewRecord{}, exists: map[string]bool{}}
	v, err := boundary.InstalledVersion(ctx, tx, n)
	if err != nil {
		return st, fmt.Errorf("read installed version of %s: %w", n.Schema, err)
	}
	st.version = v
	if v > 0 {
		recs, err := boundary.ReadRegistry(ctx, tx, n)
		if err != nil {
			return st, fmt.Errorf("read registry %s.views: %w", n.Schema, err)
		}
		for _, r := range recs {
			st.registry[r.Name] = r
		}
	}
	kinds, err := boundary.ManagedRelations(ctx, tx, n)
	if err != nil {
		return st, err
	}
	for name, kind := range kinds {
		if kind == boundary.ManagedRelkind(st.registry[name].Strategy()) {
			st.exists[name] = true
		}
	}
	if v > 0 {
		st.capture, err = boundary.CaptureProblems(ctx, tx, n, slices.Collect(maps.Values(st.registry)))
		if err != nil {
			return st, err
		}
	}
	if st.comments, err = boundary.ReadComments(ctx, tx, n, ""); err != nil {
		return st, err
	}
	if st.tools, err = boundary.ReadTools(ctx, tx, n); err != nil {
		return st, err
	}
	return st, nil
}

// plan computes the plan inside tx (Apply's transaction, or Plan's read-only one).
func (p *Project) plan(ctx context.Context, tx pgx.Tx) (*Plan, error) {
	n := p.Names()
	rec, err := p.readRecorded(ctx, tx)
	if err != nil {
		return nil, err
	}
	desired, err := p.analyze(ctx, tx, rec)
	if err != nil {
		return nil, err
	}
	steps := classifySteps(desired, rec)
	plan := &Plan{Schema: n.Schema, InstalledVersion: rec.version}
	if err := p.planDrops(ctx, tx, plan, steps, rec); err != nil {
		return nil, err
	}
	if plan.CreateOrder, err = createOrder(desired, steps); err != nil {
		return nil, err
	}
	if err := p.analyzeRebuilt(ctx, tx, plan.CreateOrder, steps); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(steps)) {
		plan.Steps = append(plan.Steps, *steps[name])
	}
	if err := addRefreshModes(ctx, tx, n, plan); err != nil {
		return nil, err
	}
	plan.Tools = planTools(p.cfg.Tools, rec.tools)
	return plan, nil
}

// classifySteps compares each desired view with what the database records and gives it an
// action (create, rebuild, reindex, update, unchanged); a recorded view no longer desired is
// dropped.
func classifySteps(desired []Step, rec recordedState) map[string]*Step {
	steps := map[string]*Step{}
	for _, d := range desired {
		s := d
		r, recorded := rec.registry[s.View]
		switch {
		case !recorded && rec.exists[s.View]:
			s.Action, s.Reason = ActionCreate, "not managed yet; a materialized view of that name exists and will be replaced"
			s.recorded = nil
		case !recorded || !rec.exists[s.View]:
			s.Action, s.Reason = ActionCreate, "new view"
			if recorded {
				s.Reason = "registered but missing from the database"
			}
		case r.Strategy() != s.record.Strategy():
			s.Action, s.Reason = ActionRebuild, "refresh_strategy changed from "+r.Strategy()+" to "+s.record.Strategy()+indexChange(r.Indexes, s.Indexes, s.View, &s)
		case r.SQLHash != s.Hash:
			s.Action, s.Reason = ActionRebuild, "SQL changed"+indexChange(r.Indexes, s.Indexes, s.View, &s)
		case rec.capture[s.View] != "":
			s.Action, s.Reason = ActionRebuild, "change capture is broken ("+rec.capture[s.View]+"): rebuilt so it is exact again"
		case s.lineageStale && s.record.Strategy() == boundary.StrategyIncremental:
			s.Action, s.Reason = ActionRebuild, "a relation it reads was renamed: its maintenance SQL is written again"
		case !sameIndexes(r.Indexes, s.Indexes, s.View):
			s.Action, s.Reason = ActionReindex, "indexes changed"+indexChange(r.Indexes, s.Indexes, s.View, &s)
		case !boundary.SameMetadata(r, s.record):
			s.Action, s.Reason = ActionUpdate, strings.Join(boundary.MetadataChanges(r, s.record), ", ")+" changed"
		case !boundary.SameComments(rec.comments[s.View], s.record.Description, s.columnDescriptions):
			s.Action, s.Reason = ActionUpdate, "comments changed (the description of the view or of its columns)"
		default:
			s.Action, s.Reason = ActionUnchanged, ""
		}
		if recorded {
			rr := r
			s.recorded = &rr
		}
		steps[s.View] = &s
	}
	for name, r := range rec.registry {
		if _, ok := steps[name]; !ok {
			rr := r
			steps[name] = &Step{View: name, Action: ActionDrop, Reason: "removed from materialize.yaml", recorded: &rr}
		}
	}
	return steps
}

// planDrops computes what must be dropped: every existing view the plan drops, rebuilds or
// replaces (an unmanaged materialized view with a configured name is replaced), and, closed
// over the catalog, whatever depends on one. Managed dependents pulled in become
// ActionRebuildUpstream; unmanaged ones are blockers.
func (p *Project) planDrops(ctx context.Context, tx pgx.Tx, plan *Plan, steps map[string]*Step, rec recordedState) error {
	var roots []string
	for name, s := range steps {
		if rec.exists[name] && (s.Action == ActionDrop || s.Action == ActionRebuild || s.Action == ActionCreate) {
			roots = append(roots, name)
		}
	}
	closure, err := p.dropClosure(ctx, tx, roots)
	if err != nil {
		return err
	}
	plan.Blockers, plan.DropOrder = closure.blockers, closure.order
	for _, v := range closure.order {
		s, ok := steps[v]
		if !ok { // managed but unknown to the plan: cannot happen, the registry covers it
			plan.Blockers = append(plan.Blockers, Blocker{View: closure.dependsOn[v], Dependent: "materialized view " + plan.Schema + "." + v})
			continue
		}
		if up, pulledIn := closure.dependsOn[v]; pulledIn && s.Action != ActionDrop {
			s.Action, s.Reason = ActionRebuildUpstream, "upstream view "+up+" is rebuilt"
		}
	}
	return nil
}

// createOrder lists the views to create or rebuild, dependencies first over the desired
// graph; a cycle in materialize.yaml is an error.
func createOrder(desired []Step, steps map[string]*Step) ([]string, error) {
	g := map[string][]string{}
	for _, d := range desired {
		g[d.View] = d.Upstream
	}
	order, err := lineage.NewGraph(g).Order()
	if err != nil {
		return nil, fmt.Errorf("materialize.yaml: %w; break the cycle by changing one of these views' SQL", err)
	}
	var out []string
	for _, v := range order {
		switch steps[v].Action {
		case ActionCreate, ActionRebuild, ActionRebuildUpstream:
			out = append(out, v)
		}
	}
	return out, nil
}

// analyzeRebuilt parses the views about to be created whose analysis was skipped (views
// rebuilt only because an upstream view is rebuilt reuse the catalog's lineage).
func (p *Project) analyzeRebuilt(ctx context.Context, tx pgx.Tx, order []string, steps map[string]*Step) error {
	managed := p.managedViews()
	for _, v := range order {
		if s := steps[v]; s.body == "" {
			cfg, _ := p.cfg.View(v)
			full, err := p.analyzeView(ctx, tx, cfg, lineage.NewPgxResolver(tx), managed)
			if err != nil {
				return err
			}
			s.body, s.Columns, s.Tables, s.Upstream, s.reused = full.body, full.Columns, full.Tables, full.Upstream, false
			s.analysis = full.analysis
		}
	}
	return nil
}

// addRefreshModes says for each step how refresh_view will refresh the view after the apply:
// the catalog's answer (boundary.RefreshModes, the function's own rule) for a view the apply
// keeps as it is, boundary.PlannedRefreshMode for one it creates or re-indexes.
func addRefreshModes(ctx context.Context, tx pgx.Tx, n boundary.Names, plan *Plan) error {
	modes, err := boundary.RefreshModes(ctx, tx, n, "")
	if err != nil {
		return err
	}
	for i := range plan.Steps {
		s := &plan.Steps[i]
		m, exists := modes[s.View]
		switch {
		case s.Action == ActionDrop:
			continue
		case s.Strategy == boundary.StrategyIncremental:
			m = boundary.IncrementalRefreshMode()
		case (s.Action == ActionUnchanged || s.Action == ActionUpdate) && exists:
		default:
			m = boundary.PlannedRefreshMode(s.View, s.Indexes)
		}
		s.Refresh = &m
	}
	return nil
}

// describeDependent names a dependent object, schema-qualified when it is a relation.
func describeDependent(d boundary.Dependent) string {
	if d.Schema != "" && d.Name != "" {
		kind := map[string]string{"v": "view", "m": "materialized view", "r": "table", "p": "table", "f": "foreign table"}[d.Kind]
		if kind == "" {
			kind = "relation"
		}
		return kind + " " + d.Schema + "." + d.Name
	}
	return d.Description
}

// dropSet is what dropping some managed views entails, from the catalog (pg_depend).
type dropSet struct {
	// order lists the roots and every managed view depending on them, dependents first.
	order []string
	// dependsOn maps each view pulled in by the closure to the first dropped view it reads.
	dependsOn map[string]string
	// blockers are objects agentmv does not manage that depend on a view in the set.
	blockers []Blocker
}

// dropClosure follows pg_depend from roots: managed materialized views that depend on a view
// in the set join it; anything else that depends on one is a blocker.
func (p *Project) dropClosure(ctx context.Context, tx pgx.Tx, roots []string) (dropSet, error) {
	n := p.Names()
	ds := dropSet{dependsOn: map[string]string{}}
	work := slices.Sorted(slices.Values(roots))
	upstream := map[string][]string{} // view -> views it depends on, within the set
	for _, r := range work {
		upstream[r] = nil
	}
	for len(work) > 0 {
		w := work[0]
		work = work[1:]
		deps, err := boundary.DependentsOf(ctx, tx, n, w)
		if err != nil {
			return ds, fmt.Errorf("find objects depending on %s.%s: %w", n.Schema, w, err)
		}
		for _, d := range deps {
			if !d.Managed || d.Schema != n.Schema {
				ds.blockers = append(ds.blockers, Blocker{View: w, Dependent: describeDependent(d)})
				continue
			}
			if _, in := upstream[d.Name]; !in {
				ds.dependsOn[d.Name] = w
				work = append(work, d.Name)
			}
			upstream[d.Name] = append(upstream[d.Name], w)
		}
	}
	if len(upstream) == 0 {
		return ds, nil
	}
	order, err := lineage.NewGraph(upstream).Order()
	if err != nil {
		return ds, fmt.Errorf("order drops: %w", err)
	}
	slices.Reverse(order) // dependents first
	ds.order = order
	return ds, nil
}
