import Glibc
import SwarmContent
import SwarmFS
import SwarmFUSE
import SwarmStorage
import Testing

/// The errno each typed error becomes in a FUSE reply (decided in SwarmFUSE alone).
@Suite struct ReplyErrnoTests {
    @Test func filesystemErrorsBecomeTheirErrno() {
        #expect(FSError.notFound(inode: 1, name: nil).errno == ENOENT)
        #expect(FSError.notDirectory(inode: 1).errno == ENOTDIR)
        #expect(FSError.isDirectory(inode: 1).errno == EISDIR)
        #expect(FSError.readOnly(operation: "x").errno == EROFS)
        #expect(FSError.badHandle(7).errno == EBADF)
        #expect(FSError.noAttribute(inode: 1, name: "user.x").errno == ENODATA)
        #expect(FSError.bufferTooSmall(needed: 9, given: 1).errno == ERANGE)
    }

    @Test func readErrorsBecomeTheirErrno() {
        #expect(ContentReadError.cancelled.errno == EINTR)
        #expect(ContentReadError.shutdown.errno == EIO)
        #expect(ContentReadError.timedOut(file: 0, offset: 0, seconds: 1).errno == EIO)
        #expect(ContentReadError.invalidRange(file: 0, offset: 0, length: 1).errno == EINVAL)
        #expect(ContentReadError.storage(file: 0, kind: .damaged, detail: "").errno == EIO)
    }

    @Test func storageFailuresKeepTheSystemCallsErrno() {
        func replied(_ error: StorageError) -> Int32 { error.readFailureKind.errno }
        #expect(replied(.diskFull(path: "/c/f", piece: 1)) == ENOSPC)
        #expect(replied(.readOnly(path: "/c/f")) == EROFS)
        #expect(replied(.io(operation: "pread", path: "/c/f", piece: 1, errno: EACCES)) == EACCES)
        #expect(replied(.io(operation: "pread", path: "/c/f", piece: 1, errno: 0)) == EIO)
        #expect(replied(.io(operation: "pread", path: "/c/f", piece: 1, errno: -3)) == EIO)
        #expect(replied(.missingFile(path: "/c/f", piece: nil)) == EIO)
        #expect(replied(.shortFile(path: "/c/f", piece: 1, needed: 2, actual: 1)) == EIO)
        #expect(replied(.locked(directory: "/c")) == EIO)
    }
}
