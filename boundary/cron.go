package boundary

import (
	"fmt"
	"time"
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
