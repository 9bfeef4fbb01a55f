SELECT region, manager FROM regions
