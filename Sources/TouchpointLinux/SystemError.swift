#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed: what was being done, and the kernel's reason.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32

    /// `operation` says what was being done, in words an admin can act on
    /// ("cannot watch the queue directory /var/spool/touchpoint").
    public init(_ operation: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.errno = errno
    }

    public var reason: String { String(cString: strerror(errno)) }
    public var description: String { "\(operation): \(reason)" }
}
