SELECT * FROM agent_mv.views
