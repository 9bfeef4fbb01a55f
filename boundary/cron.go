package boundary

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CronSchedule is the pg_cron schedule that runs a job every `every`, or an error saying which
// intervals pg_cron can express: whole seconds from 1 to 59 ("N seconds", pg_cron 1.5 and
// later: pass seconds = true), a number of minutes that divides an hour, a number of hours that
// divides a day, one day, or one week. Cron fires on the clock (":00, :15, ..."), not relative
// to the last run, so other intervals would drift.
func CronSchedule(every time.Duration, seconds bool) (string, error) {
	switch {
	case every < time.Minute && every >= time.Second && every%time.Second == 0:
		if !seconds {
			return "", fmt.Errorf("pg_cron before 1.5 cannot run a job every %s (its shortest interval is 1m); use a whole number of minutes, upgrade pg_cron, or use agent-mv serve", every)
		}
		return fmt.Sprintf("%d seconds", every/time.Second), nil
	case every >= time.Minute && every < time.Hour && every%time.Minute == 0 && time.Hour%every == 0:
		if every == time.Minute {
			return "* * * * *", nil
		}
		return fmt.Sprintf("*/%d * * * *", every/time.Minute), nil
	case every >= time.Hour && every < 24*time.Hour && every%time.Hour == 0 && (24*time.Hour)%every == 0:
		if every == time.Hour {
			return "0 * * * *", nil
		}
		return fmt.Sprintf("0 */%d * * *", every/time.Hour), nil
	case every == 24*time.Hour:
		return "0 0 * * *", nil
	case every == 7*24*time.Hour:
		return "0 0 * * 0", nil
	}
	return "", fmt.Errorf("pg_cron cannot run a job every %s: use whole seconds from 1s to 59s, "+
		"minutes dividing an hour (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m), "+
		"hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h), 1d or 7d", every)
}

// CronJobPrefix starts the name of every pg_cron job agentmv keeps.
const CronJobPrefix = "agentmv:"

// CronJobName is the name of the pg_cron job that refreshes view in n.Schema:
// "agentmv:<schema>.<view>", or, when that exceeds pg_cron's 63-byte job names, its first 50
// bytes, "~" and 12 hex digits of its sha256 (still unique and stable).
func CronJobName(n Names, view string) string {
	name := CronJobPrefix + n.Schema + "." + view
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:50] + "~" + hex.EncodeToString(sum[:6])
}

// CronJobCommand is what the job of view runs: refresh_view, so history, single flight and
// mode rules hold as for every other refresh.
func CronJobCommand(n Names, view string) string {
	return cronCommandPrefix(n) + quoteLiteral(view) + ")"
}

// cronCommandPrefix starts the command of every job of the schema (which is how the jobs of one
// schema are told from another's).
func cronCommandPrefix(n Names) string { return "SELECT " + sqlData{n: n}.Function() + "(" }

// CronJob is one pg_cron job agentmv keeps (a row of cron.job).
type CronJob struct {
	ID       int64  `json:"jobid"`
	Name     string `json:"jobname"`
	Schedule string `json:"schedule"`
	Command  string `json:"command"`
	Database string `json:"database"`
	Active   bool   `json:"active"`
}

// ErrNoPgCron is wrapped when `scheduler: pg_cron` is asked of a database without the extension.
var ErrNoPgCron = errors.New("the pg_cron extension is not installed in this database")

// cronStateSQL: the installed pg_cron version (NULL: not installed here), whether the server
// has it available at all, the database pg_cron runs jobs from, and this database.
var cronStateSQL = mustSQL("cron_state", `
SELECT (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_cron'),
       EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions a WHERE a.name = 'pg_cron'),
       coalesce(pg_catalog.current_setting('cron.database_name', true), ''),
       pg_catalog.current_database(),
       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace s
                WHERE s.nspname = 'cron' AND pg_catalog.has_schema_privilege(s.oid, 'USAGE'))`)

// cronJobsSQL lists the jobs of the schema visible to the current user (cron.job has row level
// security: each user sees its own jobs). $1 the name prefix (LIKE-escaped), $2 the command prefix.
var cronJobsSQL = mustSQL("cron_jobs", `
SELECT j.jobid, j.jobname::text, j.schedule, j.command, j.database, j.active
  FROM cron.job j
 WHERE j.jobname LIKE $1 || '%' AND starts_with(j.command, $2)
 ORDER BY j.jobname`)

var (
	cronScheduleSQL   = mustSQL("cron_schedule", `SELECT cron.schedule($1, $2, $3)`)
	cronUnscheduleSQL = mustSQL("cron_unschedule", `SELECT cron.unschedule($1::bigint)`)
)

// PgCronState is what the database says about pg_cron.
type PgCronState struct {
	Version   string // installed extension version here; "" when not installed
	Available bool   // the server has the extension files (pg_available_extensions)
	CronDB    string // cron.database_name: the database pg_cron runs jobs from ("" if unset)
	Database  string // the current database
	Usage     bool   // the current user may use schema cron (superusers, or GRANT USAGE ON SCHEMA cron)
}

// Seconds reports whether this pg_cron takes "N seconds" schedules (1.5 and later).
func (s PgCronState) Seconds() bool {
	var major, minor int
	fmt.Sscanf(s.Version, "%d.%d", &major, &minor)
	return major > 1 || (major == 1 && minor >= 5)
}

// ReadPgCron reads the pg_cron state of the current database.
func ReadPgCron(ctx context.Context, q Reader) (PgCronState, error) {
	var s PgCronState
	var version *string
	if err := q.QueryRow(ctx, cronStateSQL.render(Names{Schema: DefaultSchema})).Scan(&version, &s.Available, &s.CronDB, &s.Database, &s.Usage); err != nil {
		return s, fmt.Errorf("look up pg_cron: %w", err)
	}
	if version != nil {
		s.Version = *version
	}
	return s, nil
}

// missing explains how to get pg_cron into this database.
func (s PgCronState) missing() error {
	var how string
	switch {
	case !s.Available:
		how = "install it on the database server (Debian/Ubuntu: apt-get install postgresql-<major>-cron; " +
			"other platforms: https://github.com/citusdata/pg_cron), add it to shared_preload_libraries, " +
			"set cron.database_name = '" + s.Database + "', restart PostgreSQL, then run CREATE EXTENSION pg_cron in " + s.Database + " as a superuser"
	case s.CronDB != "" && s.CronDB != s.Database:
		how = "pg_cron runs jobs from database " + s.CronDB + " (cron.database_name); set cron.database_name = '" + s.Database +
			"' in postgresql.conf and restart, then run CREATE EXTENSION pg_cron in " + s.Database + " as a superuser"
	default:
		how = "run CREATE EXTENSION pg_cron in " + s.Database + " as a superuser (pg_cron must be in shared_preload_libraries " +
			"and cron.database_name must be '" + s.Database + "')"
	}
	return fmt.Errorf("scheduler: pg_cron: %w: %s; or drop `scheduler: pg_cron` from materialize.yaml and run agent-mv serve", ErrNoPgCron, how)
}

// ReadCronJobs lists agentmv's pg_cron jobs for the schema visible to the current user, by
// name. Without pg_cron installed it returns none.
func ReadCronJobs(ctx context.Context, q Reader, n Names) (map[string]CronJob, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	st, err := ReadPgCron(ctx, q)
	if err != nil || st.Version == "" || !st.Usage {
		return map[string]CronJob{}, err
	}
	rows, err := q.Query(ctx, cronJobsSQL.render(n), likeEscape(CronJobPrefix+n.Schema+"."), cronCommandPrefix(n))
	if err != nil {
		return nil, fmt.Errorf("read pg_cron jobs: %w (a role other than a superuser needs GRANT USAGE ON SCHEMA cron)", err)
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CronJob])
	if err != nil {
		return nil, fmt.Errorf("read pg_cron jobs: %w", err)
	}
	out := make(map[string]CronJob, len(jobs))
	for _, j := range jobs {
		out[j.Name] = j
	}
	return out, nil
}

// likeEscape escapes LIKE's wildcards (the schema may contain "_").
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// DesiredCronJobs are the jobs `scheduler: pg_cron` wants for the scheduled views (view →
// refresh_every): name → job (ID 0). A refresh_every this pg_cron cannot express is an error.
func DesiredCronJobs(n Names, st PgCronState, every map[string]time.Duration) (map[string]CronJob, error) {
	out := map[string]CronJob{}
	for view, d := range every {
		sched, err := CronSchedule(d, st.Seconds())
		if err != nil {
			return nil, fmt.Errorf("view %s: refresh_every: %w", view, err)
		}
		out[CronJobName(n, view)] = CronJob{Name: CronJobName(n, view), Schedule: sched,
			Command: CronJobCommand(n, view), Database: st.Database, Active: true}
	}
	return out, nil
}

// SyncCronJobs makes agentmv's pg_cron jobs for the schema match every (view → refresh_every)
// inside tx (apply's transaction, so they change with everything else or not at all): creates
// missing jobs, reschedules changed ones, removes jobs of views no longer scheduled. usePgCron
// false removes all of them (a switch back to agent-mv serve) and needs no pg_cron. It returns
// one line per change.
func SyncCronJobs(ctx context.Context, tx Querier, n Names, usePgCron bool, every map[string]time.Duration) ([]string, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	st, err := ReadPgCron(ctx, tx)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Version == "" && usePgCron:
		return nil, st.missing()
	case !st.Usage && usePgCron:
		return nil, fmt.Errorf("scheduler: pg_cron: the admin role may not use schema cron: run GRANT USAGE ON SCHEMA cron TO the admin role as a superuser, then apply again")
	case st.Version == "" || !st.Usage:
		return nil, nil // no pg_cron, or not ours to look at: nothing of agentmv's to remove
	}
	want := map[string]CronJob{}
	if usePgCron {
		if want, err = DesiredCronJobs(n, st, every); err != nil {
			return nil, err
		}
	}
	have, err := ReadCronJobs(ctx, tx, n)
	if err != nil {
		return nil, err
	}
	var changes []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w := want[name]
		h, ok := have[name]
		if ok && h.Schedule == w.Schedule && h.Command == w.Command && h.Database == w.Database && h.Active {
			continue
		}
		if err := exec(ctx, tx, "schedule pg_cron job "+name, cronScheduleSQL.render(n), name, w.Schedule, w.Command); err != nil {
			return nil, fmt.Errorf("%w (a role other than a superuser needs GRANT USAGE ON SCHEMA cron TO it)", err)
		}
		verb := "created"
		if ok {
			verb = "rescheduled"
		}
		changes = append(changes, fmt.Sprintf("%s pg_cron job %s: %q runs %s", verb, name, w.Schedule, w.Command))
	}
	for _, name := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[name]; ok {
			continue
		}
		if err := exec(ctx, tx, "unschedule pg_cron job "+name, cronUnscheduleSQL.render(n), have[name].ID); err != nil {
			return nil, err
		}
		changes = append(changes, "removed pg_cron job "+name)
	}
	return changes, nil
}

// UnscheduleCronJobs removes the pg_cron jobs of views (drop) inside tx; nothing without pg_cron.
func UnscheduleCronJobs(ctx context.Context, tx Querier, n Names, views []string) ([]string, error) {
	have, err := ReadCronJobs(ctx, tx, n)
	if err != nil {
		return nil, err
	}
	var changes []string
	for _, v := range views {
		if j, ok := have[CronJobName(n, v)]; ok {
			if err := exec(ctx, tx, "unschedule pg_cron job "+j.Name, cronUnscheduleSQL.render(n), j.ID); err != nil {
				return nil, err
			}
			changes = append(changes, "removed pg_cron job "+j.Name)
		}
	}
	return changes, nil
}

// CheckCronJobs is the doctor's check of the pg_cron jobs: with usePgCron every scheduled view
// (view → refresh_every) has an active job that runs refresh_view on the right schedule, and
// there is no job for any other view; without it there are no agentmv jobs left for the schema
// (they would refresh views besides agent-mv serve). ok is false when the check is not needed
// (no pg_cron in use and none installed).
func CheckCronJobs(ctx context.Context, q Reader, n Names, usePgCron bool, every map[string]time.Duration) (Check, bool) {
	c := Check{Name: "pg_cron jobs"}
	st, err := ReadPgCron(ctx, q)
	if err != nil {
		c.Status, c.Message, c.Hint = CheckFail, "pg_cron jobs: "+err.Error(), "check that DATABASE_URL connects as an administrator"
		return c, true
	}
	switch {
	case !usePgCron && (st.Version == "" || !st.Usage):
		return c, false
	case usePgCron && st.Version == "":
		c.Status, c.Message = CheckFail, st.missing().Error()
		return c, true
	case usePgCron && !st.Usage:
		c.Status, c.Message, c.Hint = CheckFail, "scheduler: pg_cron, but the admin role may not use schema cron", "GRANT USAGE ON SCHEMA cron TO the admin role"
		return c, true
	}
	want := map[string]CronJob{}
	if usePgCron {
		if want, err = DesiredCronJobs(n, st, every); err != nil {
			c.Status, c.Message = CheckFail, err.Error()
			return c, true
		}
	}
	have, err := ReadCronJobs(ctx, q, n)
	if err != nil {
		c.Status, c.Message = CheckFail, err.Error()
		return c, true
	}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w, h := want[name], have[name]
		switch {
		case h.Name == "":
			problems = append(problems, "job "+name+" is missing")
		case h.Schedule != w.Schedule || h.Command != w.Command || h.Database != w.Database:
			problems = append(problems, fmt.Sprintf("job %s runs %q on %q in %s, want %q on %q in %s", name, h.Command, h.Schedule, h.Database, w.Command, w.Schedule, w.Database))
		case !h.Active:
			problems = append(problems, "job "+name+" is not active")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[name]; !ok {
			problems = append(problems, "job "+name+" is not wanted by materialize.yaml")
		}
	}
	if len(problems) > 0 {
		c.Status, c.Message, c.Hint = CheckFail, "pg_cron jobs: "+strings.Join(problems, "; "), "run `agent-mv apply` to make the jobs match materialize.yaml"
		return c, true
	}
	c.Status, c.Message = CheckOK, fmt.Sprintf("%d pg_cron job(s) refresh the scheduled views (pg_cron %s)", len(want), st.Version)
	return c, true
}
