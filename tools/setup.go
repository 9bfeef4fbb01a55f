package tools

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/boundary"
)

// SetupConfig is what the setup tools need. They run once, during onboarding, on the
// privileged DSN; hosts get it filled by agentmv's Project.SetupTools.
type SetupConfig struct {
	// Pool connects with the privileged DSN (DATABASE_URL).
	Pool *pgxpool.Pool
	// Root is the project directory (where materialize.yaml lives). read_repo_files is
	// confined to it; the staging file and materialize/<name>.sql are written in it.
	Root string
	// Schema is the target schema <S>.
	Schema string
	// Limits bound sample_query (as query_view).
	Limits Limits
	// ViewNames returns the names of the views already in materialize.yaml.
	ViewNames func() []string
	// ToolNames returns the names of the tools already in materialize.yaml (may be nil).
	ToolNames func() []string
	// AddViews appends views to materialize.yaml (keeping its comments). Their SQL files
	// (SQLFile, relative to Root) are written before it is called.
	AddViews func(ctx context.Context, views []NewView) error
}

// NewView is a view finalize_config adds to the project file.
type NewView struct {
	Name        string
	SQLFile     string // relative to SetupConfig.Root, e.g. materialize/<name>.sql
	Description string
	Indexes     []IndexSuggestion
	// Columns are what some of its columns mean (materialize.yaml's columns:), in the
	// view's column order.
	Columns []ColumnDescription
	// Tool, when set, goes under materialize.yaml's tools: in the same write.
	Tool *ToolSpec
}

// ColumnDescription is what one column of a view means, in one line.
type ColumnDescription struct {
	Column      string
	Description string
}

// Setup tool names (the seed's).
const (
	ToolListSchemas    = "list_schemas"
	ToolListTables     = "list_tables"
	ToolDescribeTable  = "describe_table"
	ToolProfileTable   = "profile_table"
	ToolSampleQuery    = "sample_query"
	ToolReadRepoFiles  = "read_repo_files"
	ToolProposeView    = "propose_view"
	ToolFinalizeConfig = "finalize_config"
)

// StagingFileName is the file propose_view writes and finalize_config reads (the seed's).
const StagingFileName = ".materialize-staging.yaml"

// Read caps of read_repo_files.
const (
	MaxRepoFiles     = 100
	MaxRepoFileBytes = 200_000
	MaxRepoBytes     = 1 << 20
)

// SetupTools returns the eight setup tools (toolset [ToolsetSetup]) on cfg, with the onboard
// and add-view prompts.
func SetupTools(cfg SetupConfig) (*Registry, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("tools: setup tools need a pool on the privileged DSN (SetupConfig.Pool)")
	}
	if cfg.Schema == "" {
		cfg.Schema = boundary.DefaultSchema
	}
	if cfg.Root == "" {
		return nil, fmt.Errorf("tools: setup tools need the project directory (SetupConfig.Root)")
	}
	root, err := filepath.Abs(cfg.Root)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return nil, fmt.Errorf("tools: setup tools: project directory: %w", err)
	}
	cfg.Root = root
	cfg.Limits = cfg.Limits.withDefaults()
	st := &setupTools{cfg: cfg}
	ro := []Option{ReadOnly(), OpenWorld(false), InToolset(ToolsetSetup)}
	reg := NewRegistry()
	err = reg.Add(
		New(ToolListSchemas, "List the user schemas of the database.", setupHandler(st.listSchemas), ro...),
		New(ToolListTables, "List the tables, views and materialized views of a schema with estimated row counts.", setupHandler(st.listTables), ro...),
		New(ToolDescribeTable, "Describe a table (schema.table, or a bare name in public): columns, types, nullability, primary key, unique and foreign keys.", setupHandler(st.describeTable), ro...),
		New(ToolProfileTable, "Profile a table from planner statistics: estimated rows, and per column the null fraction, distinct estimate and most common values (masked for columns whose names say they are secret: password, token, api_key, ssn ...). System catalogs are not readable by any setup tool.", setupHandler(st.profileTable), ro...),
		New(ToolSampleQuery, "Run one read-only SELECT on the user tables (no catalogs, no side-effect functions), in a read-only transaction with a timeout, capped in rows and bytes. Columns whose names say they are secret, or computed from such columns, come back masked.",
			setupHandler(st.sampleQuery), append(ro,
				Param("limit", Description(fmt.Sprintf("Most rows to return (at most %d)", cfg.Limits.MaxRows)), Default(cfg.Limits.MaxRows)))...),
		New(ToolReadRepoFiles, fmt.Sprintf("Read project files matching globs (relative to the project root, ** allowed), to learn the data model from code. Never reads .env*, keys, credential files, .git, vendor or node_modules; secrets inside files (passwords, DSN passwords, tokens, keys) come back as [REDACTED], and redacted and skipped list what was withheld and why; at most %d files, %d bytes each.", MaxRepoFiles, MaxRepoFileBytes),
			setupHandler(st.readRepoFiles), ro...),
		New(ToolProposeView, "Stage a proposed materialized view in "+StagingFileName+" after validating its name and SQL; suggests a unique index so refreshes can run concurrently. Returns the staged proposals.",
			setupHandler(st.proposeView), OpenWorld(false), Destructive(false), Idempotent(), InToolset(ToolsetSetup)),
		New(ToolFinalizeConfig, "Move approved staged proposals into materialize.yaml and materialize/<name>.sql (then run `agent-mv apply`).",
			setupHandler(st.finalizeConfig), OpenWorld(false), Destructive(false), InToolset(ToolsetSetup)),
	)
	if err != nil {
		return nil, err
	}
	prompts, err := setupPrompts(cfg.Schema)
	if err == nil {
		err = reg.AddPrompts(prompts...)
	}
	if err != nil {
		return nil, err
	}
	reg.SetInstructions(setupInstructions(cfg.Schema))
	return reg, nil
}

type setupTools struct {
	cfg SetupConfig
	mu  sync.Mutex // serialises staging and config writes
}
