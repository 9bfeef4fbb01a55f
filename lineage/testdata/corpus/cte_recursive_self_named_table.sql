WITH RECURSIVE employees AS (
  SELECT id, manager_id FROM public.employees WHERE manager_id IS NULL
  UNION ALL
  SELECT e.id, e.manager_id FROM public.employees e JOIN employees x ON e.manager_id = x.id
)
SELECT * FROM employees
