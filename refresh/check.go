package refresh

import (
	"fmt"
	"time"
)

// Kinds of Alarm.
const (
	AlarmStale       = "stale"       // past max_staleness (its own or an upstream view's)
	AlarmFailed      = "failed"      // the last refresh failed
	AlarmUnpopulated = "unpopulated" // the view has no contents; reading it is an error
)

// Alarm is one reason a view needs attention: what `agent-mv status --check` reports.
type Alarm struct {
	View   string `json:"view"`
	Kind   string `json:"kind"` // stale | failed | unpopulated
	Reason string `json:"reason"`
}

// Check returns the alarms of the views, in their order: a view is unpopulated, its last
// refresh failed, or it is past its max_staleness (ViewStatus.Stale, which includes stale
// upstream views). An empty result means every view is healthy.
func Check(views []ViewStatus) []Alarm {
	var out []Alarm
	for _, v := range views {
		if !v.Populated {
			out = append(out, Alarm{View: v.Name, Kind: AlarmUnpopulated,
				Reason: fmt.Sprintf("not populated: reading it fails until it is refreshed (agent-mv refresh %s)", v.Name)})
		}
		if v.LastStatus == StatusFailed {
			reason := "last refresh failed"
			if v.LastFinishedAt != nil {
				reason += " at " + v.LastFinishedAt.UTC().Format(time.RFC3339)
			}
			reason += ": " + v.LastError
			if v.LastSQLState != "" {
				reason += " (SQLSTATE " + v.LastSQLState + ")"
			}
			out = append(out, Alarm{View: v.Name, Kind: AlarmFailed, Reason: reason})
		}
		if v.Stale {
			out = append(out, Alarm{View: v.Name, Kind: AlarmStale, Reason: v.StaleReason})
		}
	}
	return out
}
