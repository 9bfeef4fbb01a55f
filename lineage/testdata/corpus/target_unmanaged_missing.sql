SELECT * FROM agent_mv.x
