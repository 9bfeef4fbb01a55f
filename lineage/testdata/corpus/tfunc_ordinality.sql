SELECT x, ordinality FROM unnest(ARRAY[1,2,3]) WITH ORDINALITY AS u(x)
