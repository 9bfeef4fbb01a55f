package pgtest

import (
	"context"
	"fmt"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"
)

// startContainer is the last resort: a Postgres container, only when a Docker engine answers.
func startContainer(ctx context.Context) (*server, error) {
	if err := dockerAvailable(ctx); err != nil {
		return nil, err
	}
	c, err := postgres.Run(ctx, "postgres:17-alpine",
		postgres.WithDatabase("postgres"),
		postgres.WithUsername("postgres"),
		postgres.WithPassword(randomHex(12)),
		testcontainers.WithWaitStrategy(wait.ForListeningPort("5432/tcp").WithStartupTimeout(90*time.Second)),
	)
	if err != nil {
		return nil, fmt.Errorf("start postgres container: %w", err)
	}
	dsn, err := c.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, err
	}
	return &server{
		adminURL:  dsn,
		source:    "testcontainers",
		terminate: func() { _ = testcontainers.TerminateContainer(c) },
	}, nil
}

func dockerAvailable(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil { // testcontainers panics on some misconfigured hosts
			err = fmt.Errorf("docker unavailable: %v", r)
		}
	}()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("docker unavailable: %w", err)
	}
	defer p.Close()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := p.Health(pctx); err != nil {
		return fmt.Errorf("docker unavailable (no engine answers): %w", err)
	}
	return nil
}
