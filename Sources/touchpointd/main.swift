import ArgumentParser
import NIOCore
import NIOPosix
import TouchpointConfig
import TouchpointDaemon

#if canImport(Glibc)
import Glibc
#endif

extension TouchpointConfig.LogLevel: ExpressibleByArgument {}

/// touchpointd: plans and tracks the breast care team's check-in calls, wait
/// notices and Open Access information. Everything happens in TouchpointDaemon.
struct TouchpointD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "touchpointd",
        abstract: "The touchpoint daemon: reads the queue file, keeps state, serves touchpointctl.",
        version: TouchpointVersion.string)

    @Option(name: .long, help: "The config file.")
    var config = "/etc/touchpoint/touchpoint.toml"

    @Option(name: .long, help: "Override log.level (trace, debug, info, notice, warning, error, critical).")
    var logLevel: TouchpointConfig.LogLevel?

    @Flag(name: .long, help: "Check the config and templates, print what is wrong, exit 0 or 1.")
    var checkConfig = false
}

// Swift concurrency runs on NIO's event loop threads rather than libdispatch's
// global queues: on Linux those start a worker-pool monitor that wakes the
// process every second, and an idle daemon should not wake at all.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let options: TouchpointD
do {
    options = try TouchpointD.parse()
} catch {
    TouchpointD.exit(withError: error)  // --help, --version, bad usage
}
if options.checkConfig {
    exit(Daemon.checkConfig(path: options.config))
}
exit(await Daemon.run(DaemonOptions(configPath: options.config, logLevel: options.logLevel)))
