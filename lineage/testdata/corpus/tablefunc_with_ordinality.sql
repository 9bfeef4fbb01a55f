SELECT t.x, t.ord FROM unnest(ARRAY[10, 20]) WITH ORDINALITY AS t(x, ord)
