import ArgumentParser
import NIOCore
import NIOPosix
import TouchpointConfig
import TouchpointCore
import TouchpointDaemon
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

extension TouchpointConfig.LogLevel: ExpressibleByArgument {}
extension TouchpointConfig.LogTarget: ExpressibleByArgument {}

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

    @Option(name: .long, help: "Override log.target: auto (the journal when it answers), journal or stderr.")
    var logTarget: TouchpointConfig.LogTarget?

    @Flag(name: .long, help: "Check the config and templates, print what is wrong, exit 0 or 1.")
    var checkConfig = false

    @Option(name: .long, help: ArgumentHelp("Put a backup (touchpointctl backup) in place of the state database, with touchpointd stopped; dispatch starts paused.",
                                            valueName: "backup"))
    var restore: String?
}

// Before any thread starts, on the main thread: every thread inherits the
// mask, so the stop and reload signals always wait for the daemon's
// signalfd. (This file has no top-level `await`: an async main would run it
// on another thread and leave the main thread unblocked.)
SignalWatcher.block(Daemon.signals)
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
if let backup = options.restore {
    exit(Daemon.restore(configPath: options.config, backup: backup))
}
let daemonOptions = DaemonOptions(configPath: options.config, logLevel: options.logLevel, logTarget: options.logTarget)
let status = MultiThreadedEventLoopGroup.singleton.any().makeFutureWithTask { await Daemon.run(daemonOptions) }
exit((try? status.wait()) ?? 1)
