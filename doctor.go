package agentmv

import (
	"context"

	"github.com/agentmv/agentmv/boundary"
)

// Doctor checks agentmv's objects and proves the access boundary as the runtime role: it logs
// in over TCP, reads every managed view, executes the refresh function, and must be unable to
// read any other user relation or create anything. Report.OK is false on any ✗.
func (p *Project) Doctor(ctx context.Context) (boundary.Report, error) {
	pool, err := p.AdminPool(ctx)
	if err != nil {
		return boundary.Report{}, err
	}
	if p.settings.RuntimeURL == "" {
		return boundary.Report{}, ErrNoRuntimeURL
	}
	managed := make([]string, 0, len(p.cfg.Views))
	for _, v := range p.cfg.Views {
		managed = append(managed, v.Name)
	}
	return boundary.Doctor(ctx, pool, p.settings.RuntimeURL, p.Names(), managed), nil
}
