package policy

var dataControls = []Control{
	boolControl("RDS.2", "The database is not publicly accessible", Critical, false, typeDBInstance, "publiclyAccessible", false, "publiclyAccessible: false, private subnets"),
	boolControl("RDS.3", "The database's storage is encrypted", Medium, false, typeDBInstance, "storageEncrypted", true, "storageEncrypted: true"),
	boolControl("RDS.5", "The database is Multi-AZ", Medium, true, typeDBInstance, "multiAz", true, "database.multiAz"),
	boolControl("RDS.8", "The database has deletion protection", Low, true, typeDBInstance, "deletionProtection", true, "database.deletionProtection"),
	boolControl("RDS.13", "The database takes minor version upgrades", High, false, typeDBInstance, "autoMinorVersionUpgrade", true, "autoMinorVersionUpgrade: true"),
	{
		ID: "RDS.9", Title: "The database exports its logs to CloudWatch", Severity: Medium,
		Satisfied: "postgresql and upgrade logs exported",
		Check: func(s *Stack, report Reporter) {
			for _, db := range s.OfType(typeDBInstance) {
				if !contains(db.Strs("enabledCloudwatchLogsExports"), "postgresql") {
					report(db, "enabledCloudwatchLogsExports", "does not export the postgresql log")
				}
			}
		},
	},
	{
		ID: "RDS.11", Title: "The database keeps at least 7 days of backups", Severity: Medium, ProductionOnly: true,
		Satisfied: "database.backupRetentionDays >= 7",
		Check: func(s *Stack, report Reporter) {
			for _, db := range s.OfType(typeDBInstance) {
				if db.Num("backupRetentionPeriod") < 7 {
					report(db, "backupRetentionPeriod", "is %v days", db.Num("backupRetentionPeriod"))
				}
			}
		},
	},
	{
		ID: "APP.RDS.1", Title: "RDS manages the master password in Secrets Manager", Severity: High,
		Satisfied: "manageMasterUserPassword: true, no password input",
		Check: func(s *Stack, report Reporter) {
			for _, db := range s.OfType(typeDBInstance) {
				if !db.Bool("manageMasterUserPassword") || db.Has("password") {
					report(db, "manageMasterUserPassword", "the master password is set by the program, so it is in config or state")
				}
			}
		},
	},
	{
		ID: "APP.RDS.2", Title: "Deleting the database leaves a final snapshot", Severity: Medium, ProductionOnly: true,
		Satisfied: "database.finalSnapshot",
		Check: func(s *Stack, report Reporter) {
			for _, db := range s.OfType(typeDBInstance) {
				if db.Bool("skipFinalSnapshot") || db.Str("finalSnapshotIdentifier") == "" {
					report(db, "skipFinalSnapshot", "a delete would lose the data")
				}
			}
		},
	},
	{
		ID: "ElastiCache.1", Title: "The cache takes automatic backups", Severity: High,
		Satisfied: "cache.snapshotRetentionDays > 0",
		Check: func(s *Stack, report Reporter) {
			for _, c := range s.OfType(typeCacheGroup) {
				if c.Num("snapshotRetentionLimit") < 1 {
					report(c, "snapshotRetentionLimit", "is %v", c.Num("snapshotRetentionLimit"))
				}
			}
		},
	},
	boolControl("ElastiCache.2", "The cache takes minor version upgrades", High, false, typeCacheGroup, "autoMinorVersionUpgrade", true, "autoMinorVersionUpgrade: true"),
	boolControl("ElastiCache.3", "The cache fails over automatically", Medium, true, typeCacheGroup, "automaticFailoverEnabled", true, "cache.automaticFailover with a replica"),
	boolControl("ElastiCache.4", "The cache is encrypted at rest", Medium, false, typeCacheGroup, "atRestEncryptionEnabled", true, "atRestEncryptionEnabled: true"),
	boolControl("ElastiCache.5", "The cache is encrypted in transit", Medium, false, typeCacheGroup, "transitEncryptionEnabled", true, "transitEncryptionEnabled: true"),
	{
		ID: "ElastiCache.6", Title: "The cache requires authentication", Severity: Medium,
		Satisfied: "an auth token from Secrets Manager",
		Check: func(s *Stack, report Reporter) {
			for _, c := range s.OfType(typeCacheGroup) {
				if !c.Has("authToken") && len(c.Strs("userGroupIds")) == 0 {
					report(c, "authToken", "anyone who reaches the port can use the cache")
				}
			}
		},
	},
	{
		ID: "ElastiCache.7", Title: "The cache uses its own subnet group", Severity: High,
		Satisfied: "a subnet group over the private subnets",
		Check: func(s *Stack, report Reporter) {
			for _, c := range s.OfType(typeCacheGroup) {
				if g := c.Str("subnetGroupName"); g == "" || g == "default" {
					report(c, "subnetGroupName", "uses the default subnet group")
				}
			}
		},
	},
	{
		ID: "APP.DATA.1", Title: "Stateful resources are protected from `pulumi destroy`", Severity: High, ProductionOnly: true,
		Satisfied: "database.protect and cache.protect",
		Check: func(s *Stack, report Reporter) {
			for _, typ := range []string{typeDBInstance, typeCacheGroup} {
				for _, r := range s.OfType(typ) {
					if !r.Protect {
						report(r, "protect", "a `pulumi destroy` or a replacement would delete the data")
					}
				}
			}
		},
	},
}
