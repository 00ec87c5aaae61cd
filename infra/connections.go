package infra

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Connections are variables the app's containers receive from other components (the database, the
// cache) whose values exist only once those are deployed. The API, the jobs and the worker all get them.
type Connections struct {
	// Env holds plain variables such as DB_HOST.
	Env pulumi.StringMap
	// Secrets maps a variable to a Secrets Manager ARN, optionally with ECS's ":json-key::" suffix.
	Secrets pulumi.StringMap
}

// MergeConnections combines the connections of several components.
func MergeConnections(all ...Connections) Connections {
	out := Connections{Env: pulumi.StringMap{}, Secrets: pulumi.StringMap{}}
	for _, c := range all {
		for k, v := range c.Env {
			out.Env[k] = v
		}
		for k, v := range c.Secrets {
			out.Secrets[k] = v
		}
	}
	return out
}

// resolved waits for the connection values, so container definitions and policies can be rendered.
func (c Connections) resolved() pulumi.AnyOutput {
	env, secrets := c.Env, c.Secrets
	if env == nil {
		env = pulumi.StringMap{}
	}
	if secrets == nil {
		secrets = pulumi.StringMap{}
	}
	return pulumi.All(env.ToStringMapOutput(), secrets.ToStringMapOutput()).ApplyT(func(v []any) resolvedConnections {
		return resolvedConnections{Env: v[0].(map[string]string), Secrets: v[1].(map[string]string)}
	}).(pulumi.AnyOutput)
}

type resolvedConnections struct {
	Env, Secrets map[string]string
}
