import Foundation
import Synchronization
import TouchpointConfig

public enum TouchpointVersion {
    public static let string = "0.1.0"
}

/// What the running daemon shares between its services: the current config
/// (replaced whole on reload) and when it started.
final class RuntimeState: Sendable {
    private let current: Mutex<TouchpointConfig>
    let startedAt = Date()

    init(config: TouchpointConfig) {
        current = Mutex(config)
    }

    var config: TouchpointConfig { current.withLock { $0 } }

    func replace(_ config: TouchpointConfig) { current.withLock { $0 = config } }
}
