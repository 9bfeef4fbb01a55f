// Package boundary owns every DDL/DCL statement agentmv issues (schema, runtime and owner roles,
// registry tables, the SECURITY DEFINER refresh function, grants) and the doctor's catalog probes.
package boundary
