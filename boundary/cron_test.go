package boundary

import (
	"strings"
	"testing"
	"time"
)

// TestCronSchedule: the intervals pg_cron can express, and a clear error for the others.
func TestCronSchedule(t *testing.T) {
	tests := []struct {
		every   time.Duration
		seconds bool
		want    string // schedule, or a substring of the error
		err     bool
	}{
		{every: 5 * time.Second, seconds: true, want: "5 seconds"},
		{every: 59 * time.Second, seconds: true, want: "59 seconds"},
		{every: 5 * time.Second, seconds: false, want: "pg_cron before 1.5 cannot run a job every 5s", err: true},
		{every: 1500 * time.Millisecond, seconds: true, want: "pg_cron cannot run a job every 1.5s", err: true},
		{every: time.Minute, want: "* * * * *"},
		{every: 15 * time.Minute, want: "*/15 * * * *"},
		{every: 7 * time.Minute, want: "cannot run a job every 7m0s", err: true},
		{every: 90 * time.Second, want: "cannot run a job every 1m30s", err: true},
		{every: time.Hour, want: "0 * * * *"},
		{every: 6 * time.Hour, want: "0 */6 * * *"},
		{every: 5 * time.Hour, want: "cannot run a job every 5h0m0s", err: true},
		{every: 24 * time.Hour, want: "0 0 * * *"},
		{every: 7 * 24 * time.Hour, want: "0 0 * * 0"},
		{every: 48 * time.Hour, want: "1d or 7d", err: true},
	}
	for _, tt := range tests {
		got, err := CronSchedule(tt.every, tt.seconds)
		if tt.err {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CronSchedule(%s, %v) = %q, %v; want an error containing %q", tt.every, tt.seconds, got, err, tt.want)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CronSchedule(%s, %v) = %q, %v; want %q", tt.every, tt.seconds, got, err, tt.want)
		}
	}
}
