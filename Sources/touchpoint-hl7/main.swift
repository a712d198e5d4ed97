import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import TouchpointConfig
import TouchpointDomain
import TouchpointFeedMap
import TouchpointHL7
import TouchpointHL7Receiver
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// touchpoint-hl7: the receiver for the hospital's HL7 v2 feed. The mapping
/// lives in TouchpointFeedMap, the parsing in TouchpointHL7.
struct TouchpointHL7Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "touchpoint-hl7",
        abstract: "The receiver for the hospital's HL7 v2 feed (SIU, ADT over MLLP).",
        discussion: """
            Serves MLLP (over TLS with tls_cert and tls_key, mutual with tls_client_ca) until stopped (SIGTERM); `map` is a dry run.
            Exit codes: 0 success, 1 failed or refused, 2 bad usage.
            """,
        version: "0.1.0",
        subcommands: [Map.self, Status.self, Rejects.self])

    @OptionGroup var options: HL7ConfigOption

    @Flag(name: .long, help: "Check the config, print what is wrong, exit 0 or 1.")
    var checkConfig = false

    @Option(name: .long, help: "Where logs go: auto (the journal when it answers), journal or stderr.")
    var logTarget: TouchpointConfig.LogTarget = .auto

    /// --check-config (serving is started below, outside ArgumentParser).
    func run() throws {
        let config = try options.load()
        do {
            _ = try ReceiverTLS.context(for: config)
        } catch {
            FileHandle.standardError.write(Data("touchpoint-hl7: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print("\(config.file): valid (\(config.feeds.count) feed\(config.feeds.count == 1 ? "" : "s"): \(config.feeds.map(\.name).joined(separator: ", "))); \(ReceiverTLS.summary(for: config))")
    }
}

extension TouchpointConfig.LogTarget: ExpressibleByArgument {}

struct HL7ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The config file.")
    var config = "/etc/touchpoint/hl7.toml"

    func load() throws -> HL7Config {
        do {
            return try HL7ConfigLoader.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("touchpoint-hl7: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

extension TouchpointHL7Command {
    /// A dry run: the events and ACK each message would give; writes nothing.
    struct Map: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the queue events and the ACK each message would give; nothing is written.",
            discussion: """
                Each FILE holds one message, or MLLP frames. Messages are taken in order, so a booking and then its \
                reschedule behave as they would live; whether touchpoint knows a patient is answered from this run's \
                bookings only (the daemon is not asked).
                """)

        @OptionGroup var options: HL7ConfigOption
        @Option(help: "Only this feed (by name).") var feed: String?
        @Argument(help: "Message files.") var files: [String]

        func run() throws {
            var config = try options.load()
            if let feed {
                config.feeds = config.feeds.filter { $0.name == feed }
                guard !config.feeds.isEmpty else { throw ValidationError("no feed named \"\(feed)\" in \(config.file)") }
            }
            var dry = DryRun(feeds: config.feeds, clock: config.clock)
            var refused = false
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("touchpoint-hl7: \(file): cannot be read\n".utf8))
                    refused = true
                    continue
                }
                for (i, bytes) in DryRun.messages(in: Array(data)).enumerated() {
                    let r = dry.run(bytes, now: Date())
                    let type = r.message.map { "\($0.messageType.code)^\($0.messageType.trigger)" } ?? "not a message"
                    let code = (try? HL7Message(bytes: r.ack))?.value(at: try HL7FieldPath(parsing: "MSA-1")).text ?? "?"
                    var note = ""
                    if case .ignored(let why)? = r.mapping?.outcome { note = " (ignored: \(why))" }
                    if let p = r.problem { note = " (\(p))" }
                    print("# \(file)\(i > 0 ? " [\(i + 1)]" : ""): \(type) -> \(code)\(note)")
                    for line in r.lines { print(String(decoding: line, as: UTF8.self)) }
                    print(String(decoding: r.ack, as: UTF8.self).split(separator: "\r").map { "  " + $0 }.joined(separator: "\n"))
                    if code != "AA" && code != "CA" { refused = true }
                }
            }
            if refused { throw ExitCode(1) }
        }
    }
}

extension TouchpointHL7Command {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Per feed: messages received, accepted, ignored, rejected, and the last one's time.")
        @OptionGroup var options: HL7ConfigOption

        func run() throws {
            let config = try options.load()
            print(try ReceiverReports.status(stateDir: config.stateDir) { Timestamp.rfc3339($0) })
        }
    }

    struct Rejects: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The messages refused (AE, AR), newest first: feed, code, field and why.")
        @OptionGroup var options: HL7ConfigOption
        @Option(help: "How many.") var limit = 50
        @Flag(help: "The raw messages too (patient data): root or touchpoint-admin only.") var showMessage = false

        static func inGroup(_ name: String) -> Bool {
            guard let gid = UnixAccounts.gid(of: name) else { return false }
            if getegid() == gid { return true }
            let n = getgroups(0, nil)
            var groups = [gid_t](repeating: 0, count: Int(max(n, 0)))
            return getgroups(n, &groups) >= 0 && groups.contains(gid)
        }

        func run() throws {
            let config = try options.load()
            if showMessage && geteuid() != 0 && !Self.inGroup("touchpoint-admin") {
                throw ValidationError("--show-message shows patient data: root or members of touchpoint-admin only")
            }
            print(try ReceiverReports.rejects(stateDir: config.stateDir, limit: limit, showMessage: showMessage) { Timestamp.rfc3339($0) })
        }
    }
}

// As touchpointd: signals blocked before any thread starts, NIO's loops run
// Swift concurrency, no top-level await.
SignalWatcher.block([SIGTERM, SIGINT, SIGHUP])
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
var command: any ParsableCommand
do {
    command = try TouchpointHL7Command.parseAsRoot()
} catch {
    TouchpointHL7Command.exit(withError: error)
}
guard let root = command as? TouchpointHL7Command, !root.checkConfig else {
    do { try command.run() } catch { TouchpointHL7Command.exit(withError: error) }
    exit(0)
}
let (path, target) = (root.options.config, root.logTarget)
let status = MultiThreadedEventLoopGroup.singleton.any().makeFutureWithTask { await ReceiverMain.serve(configPath: path, logTarget: target) }
exit((try? status.wait()) ?? 1)
