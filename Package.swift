// swift-tools-version:6.2
import Foundation
import PackageDescription

// Dependencies, and why each earns its build time (2-core machine, first debug build):
// - swift-argument-parser: both CLIs, completions and man page generation.
// - swift-log: the logging API; our journald handler plugs into it.
// - swift-nio: the control socket server (framing, backpressure, idle timeouts).
// - swift-service-lifecycle: one task tree, graceful shutdown on SIGTERM/SIGINT.
// - GRDB: SQLite with WAL, migrations and a reader/writer pool.
// - TOMLKit: the config file format (about 15 s to build).
// - swift-mustache: notice templates (no dependencies of its own; a few seconds).
// - hummingbird, hummingbird-auth, swift-crypto, swift-http-types: the web view.
// - async-http-client: the GOV.UK Notify transport (HTTP/1.1 and 2, TLS,
//   proxies, a pool, timeouts); about 1.5 minutes more on a first debug build,
//   most of its dependencies (NIO, NIOSSL) being built for the web view already.
//   swift-crypto's HMAC signs its JWTs.
let package = Package(
    name: "touchpoint",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "touchpointd", targets: ["touchpointd"]),
        .executable(name: "touchpointctl", targets: ["touchpointctl"]),
        .executable(name: "touchpoint-web", targets: ["touchpoint-web"]),
        .executable(name: "touchpoint-hl7", targets: ["touchpoint-hl7"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", exact: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", exact: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", exact: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
    ],
    targets: [
        // libsystemd: journald, sd_notify, socket activation.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // Linux interfaces Glibc's Swift module leaves out (timerfd, signalfd, eventfd, inotify).
        .systemLibrary(name: "CLinux"),
        // Linux system interfaces, each written once: the wake loop (poll on a
        // timerfd, inotify, a signalfd), blocking lanes, atomic file writes,
        // Unix socket addresses and account look-ups.
        .target(
            name: "TouchpointLinux",
            dependencies: ["CLinux", .product(name: "NIOPosix", package: "swift-nio")]
        ),
        // Events, patients, bookings, validation, the local calendar. Pure Swift, no I/O.
        .target(name: "TouchpointDomain"),
        // HL7 v2: messages parsed with their own encoding characters, escapes and
        // character sets, field paths, TS/DTM times, acknowledgements with ERR,
        // MLLP framing. Pure Swift, no I/O: ours, as no HL7 library for Swift is
        // production-ready (`touchpoint-hl7` is its receiver).
        .target(name: "TouchpointHL7", dependencies: ["TouchpointDomain"]),
        // A feed's messages to queue events (`hl7.toml`'s [[feed]] and its maps):
        // routing on MSH-9, bookings, reschedules, delays, cancels, patients
        // touchpoint knows, merges. Pure: the receiver supplies its memory.
        .target(name: "TouchpointFeedMap", dependencies: ["TouchpointHL7", "TouchpointDomain"]),
        // touchpoint-hl7's runtime: the MLLP listener (SwiftNIO; the peer allow
        // list, limits, idle timeout), messages on a connection in order, the
        // queue file appended under flock + fdatasync before the ACK, its own
        // small state (GRDB), a keyed hash of the patients it booked (swift-crypto).
        .target(
            name: "TouchpointHL7Receiver",
            dependencies: [
                "TouchpointHL7", "TouchpointFeedMap", "TouchpointConfig", "TouchpointDomain", "TouchpointLinux", "TouchpointSystemd",
                "TouchpointControl",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The TOML configuration: parsing and validation.
        .target(
            name: "TouchpointConfig",
            dependencies: [
                "TouchpointDomain", "TouchpointHL7", "TouchpointFeedMap",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The durable state: SQLite through GRDB, migrations, applying events.
        .target(
            name: "TouchpointStore",
            dependencies: [
                "CLinux", "TouchpointLinux",
                "TouchpointDomain",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The control protocol (the frame codec, requests, replies), its client and output formatting.
        .target(
            name: "TouchpointControl",
            dependencies: [
                "TouchpointDomain", "TouchpointLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        // libsystemd glue: journald log handler, sd_notify, socket activation.
        .target(
            name: "TouchpointSystemd",
            dependencies: [
                "CSystemd", "TouchpointLinux", "TouchpointDomain",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Dispatch: templates (checked when the config loads), messages, the
        // transports (outbox, command, GOV.UK Notify) and Notify's receipts.
        .target(
            name: "TouchpointDispatch",
            dependencies: [
                "TouchpointDomain", "TouchpointConfig", "TouchpointLinux",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The application core: every operation a front end offers, typed,
        // with the acting person; the role rules and the audit in one place.
        .target(
            name: "TouchpointCore",
            dependencies: [
                "TouchpointDomain", "TouchpointConfig", "TouchpointStore", "TouchpointDispatch", "TouchpointLinux",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The daemon runtime: the control socket's harness over the core, the
        // engine, dispatch, the queue watcher, the daily export, lifecycle.
        .target(
            name: "TouchpointDaemon",
            dependencies: [
                "TouchpointDomain", "TouchpointConfig", "TouchpointStore", "TouchpointCore", "TouchpointLinux",
                "TouchpointControl", "TouchpointSystemd", "TouchpointDispatch", "CLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "touchpointd",
            dependencies: [
                "TouchpointDaemon", "TouchpointCore", "TouchpointLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // touchpoint-web: the ward's web view, a separate program that acts for
        // each nurse over the control socket (web.md).
        .target(
            name: "TouchpointWeb",
            dependencies: [
                "TouchpointControl", "TouchpointDomain", "TouchpointSystemd", "TouchpointLinux", "TouchpointConfig", "CLinux",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "touchpoint-web",
            dependencies: [
                "TouchpointWeb", "TouchpointLinux", "TouchpointConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "touchpoint-hl7",
            dependencies: [
                "TouchpointConfig", "TouchpointFeedMap", "TouchpointHL7", "TouchpointHL7Receiver", "TouchpointLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "touchpointctl",
            dependencies: [
                "TouchpointControl", "TouchpointDomain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // issue 8's benchmarks, against the release daemon (scripts/bench).
        .target(
            name: "TouchpointBenchmarks",
            dependencies: ["TouchpointTestSupport", "TouchpointControl", "TouchpointDomain", "TouchpointLinux"]
        ),
        .executableTarget(
            name: "touchpoint-bench",
            dependencies: [
                "TouchpointBenchmarks", "TouchpointTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // What the fuzzers feed (the control decoder, the queue-line parser); scripts/fuzz builds the entries.
        .target(
            name: "TouchpointFuzzing",
            dependencies: ["TouchpointControl", "TouchpointDomain", "TouchpointHL7", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Starts the real daemon in a temp directory; writes realistic queues;
        // a stand-in for GOV.UK Notify built from its public documentation.
        .target(
            name: "TouchpointTestSupport",
            dependencies: [
                "TouchpointDomain", "TouchpointControl", "TouchpointLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "TouchpointDomainTests",
            dependencies: ["TouchpointDomain", "TouchpointConfig", "TouchpointControl", "TouchpointTestSupport", "TouchpointFuzzing"]
        ),
        // HL7 parsing and acknowledgements with plain values, and against the
        // public corpus in ../shared/hl7 when it is there.
        .testTarget(name: "TouchpointHL7Tests", dependencies: ["TouchpointHL7", "TouchpointFeedMap", "TouchpointConfig", "TouchpointDomain", "TouchpointTestSupport"]),
        // The core called directly: every operation with a Person and an injected clock.
        .testTarget(
            name: "TouchpointCoreTests",
            dependencies: [
                "TouchpointCore", "TouchpointStore", "TouchpointConfig", "TouchpointDispatch", "TouchpointDomain", "TouchpointTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TouchpointDaemonTests",
            dependencies: [
                "TouchpointTestSupport", "TouchpointControl", "TouchpointDomain", "TouchpointSystemd", "TouchpointStore",
                "TouchpointHL7Receiver", "TouchpointConfig", "TouchpointLinux", "TouchpointDispatch",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer entries, only when scripts/fuzz builds them (with
// -sanitize=fuzzer, which supplies `main`): a plain build has no use for them.
if ProcessInfo.processInfo.environment["TOUCHPOINT_FUZZ"] != nil {
    for name in ["control", "queue-line", "hl7"] {
        package.targets.append(.executableTarget(
            name: "touchpoint-fuzz-\(name)", dependencies: ["TouchpointFuzzing"], path: "fuzz/\(name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    }
}
