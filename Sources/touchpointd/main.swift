import ArgumentParser
import TouchpointConfig
import TouchpointDaemon

#if canImport(Glibc)
import Glibc
#endif

extension TouchpointConfig.LogLevel: ExpressibleByArgument {}

/// touchpointd: plans and tracks the breast care team's check-in calls, wait
/// notices and Open Access information. Everything happens in TouchpointDaemon.
@main
struct TouchpointD: AsyncParsableCommand {
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

    func run() async throws {
        if checkConfig {
            throw ExitCode(Daemon.checkConfig(path: config))
        }
        let status = await Daemon.run(DaemonOptions(configPath: config, logLevel: logLevel))
        throw ExitCode(status)
    }
}
