package agentmv

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/lineage"
)

// createIncremental qualifies an incremental view against the catalog as it is now (the views
// it reads were created before it), writes its maintenance statements for its objects' names,
// and creates it with its change capture. It returns the rows it holds.
func (p *Project) createIncremental(ctx context.Context, tx pgx.Tx, s Step) (int64, error) {
	n := p.Names()
	if s.analysis == nil {
		return 0, fmt.Errorf("incremental view %s was not analysed (internal error)", s.View)
	}
	inc, err := p.qualify(ctx, tx, s.analysis)
	if err != nil {
		return 0, err
	}
	spec := boundary.IncrementalSpec{Name: s.View, Body: s.body, Indexes: s.Indexes, Key: inc.Key}
	for _, src := range inc.Sources {
		spec.Sources = append(spec.Sources, boundary.CaptureSource{Schema: src.Schema, Name: src.Name, View: src.View, Columns: src.Columns})
	}
	objs := n.IncrementalObjectsOf(s.View, spec.Sources)
	names := lineage.IncrementalNames{Storage: n.Quoted(s.View), Def: n.Quoted(objs.Def),
		Stmt: boundary.LogStmt, Image: boundary.LogImage, Token: n.CaptureTokenSQL(objs)}
	for _, l := range objs.Logs {
		names.Logs = append(names.Logs, n.Quoted(l))
	}
	if spec.MaintainSQL, err = inc.MaintainSQL(names); err != nil {
		return 0, err
	}
	spec.FullSQL = inc.FullSQL(names)
	// SearchPath left empty: CreateIncrementalView records tx's (the one the view was
	// analysed with: <S> first, then the admin's), so functions and types resolve as here.
	return boundary.CreateIncrementalView(ctx, tx, n, spec)
}
