package agentmv

import (
	"context"
	"sync"

	"github.com/agentmv/agentmv/tools"
)

// SetupTools returns the setup tools (list_schemas … finalize_config) on the project's admin
// pool (DATABASE_URL). read_repo_files is confined to the directory of materialize.yaml, and
// finalize_config writes materialize/<name>.sql there and appends the views to the project
// file (keeping its comments).
func (p *Project) SetupTools(ctx context.Context) (*tools.Registry, error) {
	pool, err := p.AdminPool(ctx)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex // the Config is edited in place by AddViews
	return tools.SetupTools(tools.SetupConfig{
		Pool:   pool,
		Root:   p.cfg.Dir,
		Schema: p.settings.TargetSchema,
		ViewNames: func() []string {
			mu.Lock()
			defer mu.Unlock()
			names := make([]string, 0, len(p.cfg.Views))
			for _, v := range p.cfg.Views {
				names = append(names, v.Name)
			}
			return names
		},
		ToolNames: func() []string {
			mu.Lock()
			defer mu.Unlock()
			names := make([]string, 0, len(p.cfg.Tools))
			for _, t := range p.cfg.Tools {
				names = append(names, t.Name)
			}
			return names
		},
		AddViews: func(_ context.Context, views []tools.NewView) error {
			mu.Lock()
			defer mu.Unlock()
			add := make([]ViewConfig, 0, len(views))
			var specs []tools.ToolSpec
			for _, v := range views {
				vc := ViewConfig{Name: v.Name, SQLFile: v.SQLFile, Description: v.Description}
				for _, ix := range v.Indexes {
					vc.Indexes = append(vc.Indexes, IndexConfig{Columns: ix.Columns, Unique: ix.Unique})
				}
				for _, c := range v.Columns {
					vc.Columns = append(vc.Columns, ColumnDescription{Column: c.Column, Description: c.Description})
				}
				add = append(add, vc)
				if v.Tool != nil {
					specs = append(specs, *v.Tool)
				}
			}
			return p.cfg.AddViewsWithTools(add, specs)
		},
	})
}
