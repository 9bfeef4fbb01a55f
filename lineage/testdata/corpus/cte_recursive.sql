WITH RECURSIVE chain(id, manager_id, depth) AS (
  SELECT id, manager_id, 1 FROM employees WHERE manager_id IS NULL
  UNION ALL
  SELECT e.id, e.manager_id, c.depth + 1 FROM employees e JOIN chain c ON e.manager_id = c.id
)
SELECT id, depth FROM chain
