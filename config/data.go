package config

import (
	"regexp"
	"strconv"
	"strings"
)

// DatabaseConfig is a managed PostgreSQL shared by every task (key `database`). The protections
// default on; a throwaway stack turns them off explicitly.
type DatabaseConfig struct {
	Enabled             bool   `json:"enabled"`
	EngineVersion       string `json:"engineVersion"`
	InstanceClass       string `json:"instanceClass"`
	AllocatedStorage    int    `json:"allocatedStorage"`
	MaxAllocatedStorage int    `json:"maxAllocatedStorage"`
	Name                string `json:"name"`
	Username            string `json:"username"`
	MultiAZ             bool   `json:"multiAz"`
	BackupRetentionDays int    `json:"backupRetentionDays"`
	DeletionProtection  bool   `json:"deletionProtection"`
	FinalSnapshot       bool   `json:"finalSnapshot"`
	PerformanceInsights bool   `json:"performanceInsights"`
	// Protect sets Pulumi's protect option: `pulumi destroy` refuses until it is lifted.
	Protect bool `json:"protect"`
}

// CacheConfig is a managed Redis-compatible cache shared by every task (key `cache`).
type CacheConfig struct {
	Enabled       bool   `json:"enabled"`
	Engine        string `json:"engine"`
	EngineVersion string `json:"engineVersion"`
	NodeType      string `json:"nodeType"`
	// Replicas are read replicas besides the primary, in other AZs; failover needs at least one.
	Replicas              int  `json:"replicas"`
	AutomaticFailover     bool `json:"automaticFailover"`
	SnapshotRetentionDays int  `json:"snapshotRetentionDays"`
	Protect               bool `json:"protect"`
}

func defaultDatabase() DatabaseConfig {
	return DatabaseConfig{
		EngineVersion: "16", InstanceClass: "db.t4g.small", AllocatedStorage: 20, MaxAllocatedStorage: 100,
		Name: "app", Username: "app", MultiAZ: true, BackupRetentionDays: 7, DeletionProtection: true,
		FinalSnapshot: true, PerformanceInsights: true, Protect: true,
	}
}

func defaultCache() CacheConfig {
	return CacheConfig{
		Engine: "valkey", EngineVersion: "8.0", NodeType: "cache.t4g.small", Replicas: 1,
		AutomaticFailover: true, SnapshotRetentionDays: 7, Protect: true,
	}
}

// DatabaseEnv and CacheEnv are the variables the containers receive; config may not set them.
var (
	DatabaseEnv = []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_SSL", "DB_SSL_CA", "PGSSLMODE"}
	CacheEnv    = []string{"REDIS_HOST", "REDIS_PORT", "REDIS_TLS", "REDIS_PASSWORD"}
)

var (
	dbInstanceClass  = regexp.MustCompile(`^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	cacheNodeType    = regexp.MustCompile(`^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	postgresVersion  = regexp.MustCompile(`^([0-9]+)(\.[0-9]+)?$`)
	cacheVersion     = regexp.MustCompile(`^([0-9]+)\.([0-9]+)$`)
	sqlIdentifier    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	reservedDBLogins = map[string]bool{"rdsadmin": true, "rdsrepladmin": true, "postgres": true, "admin": true, "root": true}
)

// Engine floors: PostgreSQL 13 is the oldest on standard support; Redis below 6 has no AUTH with TLS.
const (
	minPostgresMajor = 13
	maxPostgresMajor = 17
	// RDS's gp3 storage for PostgreSQL starts at 20 GiB.
	minDBStorage = 20
	maxDBStorage = 65536
)

// PostgresMajor is the major version of an engine version such as "16" or "16.4".
func PostgresMajor(version string) int {
	m := postgresVersion.FindStringSubmatch(version)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func validateDatabase(c *Config, fail func(string, string, ...any)) {
	d := c.Database
	if !d.Enabled {
		return
	}
	const key = "database"
	if major := PostgresMajor(d.EngineVersion); major < minPostgresMajor || major > maxPostgresMajor {
		fail(key+".engineVersion", "must be a PostgreSQL version %d to %d, like 16 or 16.4 (got %q)", minPostgresMajor, maxPostgresMajor, d.EngineVersion)
	}
	if !dbInstanceClass.MatchString(d.InstanceClass) {
		fail(key+".instanceClass", "must be an RDS instance class like db.t4g.small or db.m7g.large (got %q)", d.InstanceClass)
	} else if strings.HasPrefix(d.InstanceClass, "db.t2.") || strings.HasPrefix(d.InstanceClass, "db.m4.") {
		fail(key+".instanceClass", "is a previous generation without current PostgreSQL support (got %q)", d.InstanceClass)
	}
	if d.AllocatedStorage < minDBStorage || d.AllocatedStorage > maxDBStorage {
		fail(key+".allocatedStorage", "must be between %d and %d GiB (got %d)", minDBStorage, maxDBStorage, d.AllocatedStorage)
	}
	if d.MaxAllocatedStorage != 0 && (d.MaxAllocatedStorage <= d.AllocatedStorage || d.MaxAllocatedStorage > maxDBStorage) {
		fail(key+".maxAllocatedStorage", "must be 0 (no autoscaling) or above allocatedStorage, up to %d GiB (got %d)", maxDBStorage, d.MaxAllocatedStorage)
	}
	if !sqlIdentifier.MatchString(d.Name) || d.Name == "postgres" || d.Name == "template0" || d.Name == "template1" {
		fail(key+".name", "must be a lowercase identifier other than postgres and template0/1 (got %q)", d.Name)
	}
	if !sqlIdentifier.MatchString(d.Username) || reservedDBLogins[d.Username] {
		fail(key+".username", "must be a lowercase identifier that RDS does not reserve (got %q)", d.Username)
	}
	if d.BackupRetentionDays < 1 || d.BackupRetentionDays > 35 {
		fail(key+".backupRetentionDays", "must be between 1 and 35 days (got %d)", d.BackupRetentionDays)
	}
	reserveVars(c, DatabaseEnv, "the database", fail)
}

func validateCache(c *Config, fail func(string, string, ...any)) {
	r := c.Cache
	if !r.Enabled {
		return
	}
	const key = "cache"
	if r.Engine != "valkey" && r.Engine != "redis" {
		fail(key+".engine", "must be valkey or redis (got %q)", r.Engine)
	}
	m := cacheVersion.FindStringSubmatch(r.EngineVersion)
	major := 0
	if m != nil {
		major, _ = strconv.Atoi(m[1])
	}
	switch {
	case m == nil:
		fail(key+".engineVersion", "must be major.minor, like 7.1 or 8.0 (got %q)", r.EngineVersion)
	case r.Engine == "redis" && (major < 6 || major > 7):
		fail(key+".engineVersion", "must be Redis 6 or 7: older versions lack AUTH over TLS (got %q)", r.EngineVersion)
	case r.Engine == "valkey" && (major < 7 || major > 8):
		fail(key+".engineVersion", "must be Valkey 7 or 8 (got %q)", r.EngineVersion)
	}
	if !cacheNodeType.MatchString(r.NodeType) {
		fail(key+".nodeType", "must be an ElastiCache node type like cache.t4g.small (got %q)", r.NodeType)
	}
	if r.Replicas < 0 || r.Replicas > 5 {
		fail(key+".replicas", "must be between 0 and 5 (got %d)", r.Replicas)
	}
	if r.AutomaticFailover && r.Replicas < 1 {
		fail(key+".automaticFailover", "needs at least one replica to fail over to (got replicas %d)", r.Replicas)
	}
	if r.SnapshotRetentionDays < 0 || r.SnapshotRetentionDays > 35 {
		fail(key+".snapshotRetentionDays", "must be between 0 and 35 days (got %d)", r.SnapshotRetentionDays)
	}
	reserveVars(c, CacheEnv, "the cache", fail)
}

// reserveVars refuses env and secrets entries for variables a component sets.
func reserveVars(c *Config, names []string, source string, fail func(string, string, ...any)) {
	for _, name := range names {
		if _, ok := c.Service.Env[name]; ok {
			fail("env", "%q is set from %s; remove it", name, source)
		}
		if _, ok := c.Service.Secrets[name]; ok {
			fail("secrets", "%q is set from %s; remove it", name, source)
		}
	}
}
