SELECT name FROM agent_mv.views
