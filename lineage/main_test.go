package lineage_test

import (
	"testing"

	"github.com/agentmv/agentmv/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
