import Foundation
import Testing
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 34: run as root, the demo made `nogroup` both staff and delegate,
/// so `nobody` or `_apt` (whose primary group it is) could act as any nurse.
/// `scripts/demo-accounts`, which the demo runs as root, is run here for real.
@Suite(.serialized) struct DemoAccountsTests {
    static func primaryUsers(ofGroup group: String) throws -> [String] {
        let entry: [Substring] = try DaemonHarness.run("/usr/bin/getent", ["group", group]).stdout.split(separator: ":")
        guard entry.count > 2 else { return ["(no group \(group))"] }
        let gid = String(entry[2])
        var users: [String] = []
        for line in try DaemonHarness.run("/usr/bin/getent", ["passwd"]).stdout.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 3 && String(fields[3]) == gid { users.append(String(fields[0])) }
        }
        return users
    }

    @Test(.enabled(if: getuid() == 0, "making the demo's accounts needs root"))
    func theDemoGivesRolesOnlyToGroupsOfItsOwn() throws {
        let r = try DaemonHarness.run("/bin/bash", [DaemonHarness.repoRoot + "/scripts/demo-accounts"])
        #expect(r.status == 0, "\(r.stderr)")
        let groups = r.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(groups == ["touchpoint-demo-staff", "touchpoint-demo-admin", "touchpoint-demo-delegate"])
        for g in groups {
            #expect(try Self.primaryUsers(ofGroup: g).isEmpty, "\(g) is some user's primary group")
        }
        let member = try DaemonHarness.run("/usr/bin/id", ["-Gn", "touchpoint-demo-web"]).stdout
        #expect(member.contains("touchpoint-demo-staff") && member.contains("touchpoint-demo-delegate") && !member.contains("nogroup"))
        // The control: a group that system users have as their primary one is refused.
        let bad = try DaemonHarness.run("/bin/bash", [DaemonHarness.repoRoot + "/scripts/demo-accounts"],
                                        environment: ["TOUCHPOINT_DEMO_STAFF_GROUP": "nogroup"])
        #expect(bad.status == 1 && bad.stderr.contains("primary group of") && bad.stdout.isEmpty, "\(bad.status) \(bad.stderr)")
    }
}
