/// The journal's message ids, one per kind of thing the service reports
/// (`systemd/touchpoint.catalog` explains each to an admin: what happened,
/// what to do). Named here, beside the domain, because every layer logs
/// them (the core, the daemon, the receivers) and none should need the
/// journald glue to say which event it is; the journal handler only carries
/// the `MESSAGE_ID` metadata it is given.
public enum MessageID {
    public static let started = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b01"
    public static let stopped = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b02"
    public static let ingested = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b03"
    public static let rejected = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b04"
    public static let queueRotated = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b05"
    public static let queueUnreadable = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b06"
    public static let configReloaded = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b07"
    public static let configRefused = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b08"
    public static let controlDenied = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b09"
    public static let stateError = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0a"
    public static let jobDue = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0b"
    public static let jobExpired = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0c"
    public static let jobEscalated = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0d"
    public static let jobSuppressed = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0e"
    public static let jobPlanned = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0f"
    public static let jobCancelled = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b10"
    public static let jobDone = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b11"
    public static let callListsWritten = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b12"
    public static let logsDropped = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b13"
    public static let schemaUpgrade = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b14"
    /// touchpoint-hl7 refused a message (AE or AR).
    public static let hl7Rejected = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b15"
    /// touchpoint-hl7 could not take a message now (no ACK; the engine sends it again).
    public static let hl7Fault = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b16"
    /// A booking's ward matches none of `calls.wards`: its call is on the unassigned list.
    public static let wardUnassigned = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b17"
    /// A feed the hospital expects has been silent longer than `silent_after`.
    public static let feedSilent = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b18"
    /// A silent feed is heard again.
    public static let feedHeard = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b19"
    /// An escalated call nobody has taken for `calls.escalation_alert_after`.
    public static let escalationUntaken = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b1a"
    /// An admin undid a death recorded in error (`undeceased`).
    public static let deathUndone = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b1b"

    /// Every id, for the catalog check.
    public static let all = [started, stopped, ingested, rejected, queueRotated, queueUnreadable, configReloaded,
                             configRefused, controlDenied, stateError, jobDue, jobExpired, jobEscalated, jobSuppressed,
                             jobPlanned, jobCancelled, jobDone, callListsWritten, logsDropped, schemaUpgrade, hl7Rejected, hl7Fault,
                             wardUnassigned, feedSilent, feedHeard, escalationUntaken, deathUndone]
}

