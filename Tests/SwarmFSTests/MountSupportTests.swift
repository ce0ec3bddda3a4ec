import Testing
@testable import SwarmFUSE

@Suite struct MountSupportTests {
    @Test func mountOptionsSplitIntoSwarmSettingsAndFuseOptions() throws {
        let options = try SwarmMountOptions.parse([
            "cache_dir=/var/cache/swarmfs,allow_other,download=on-demand,peer=127.0.0.2:6881",
            "peer=127.0.0.3:6881,rw,noauto,_netdev,x-systemd.automount,max_read=131072,cache-size=1G",
            "read_timeout=5,listen_port=7000,max_peers=9,log_level=debug,log_file=/tmp/l,foreground,defaults",
        ])
        #expect(options.cacheDirectory == "/var/cache/swarmfs")
        #expect(options.download == "on-demand")
        #expect(options.peers == ["127.0.0.2:6881", "127.0.0.3:6881"])
        #expect(options.cacheSize == "1G")
        #expect(options.readTimeout == "5" && options.listenPort == "7000" && options.maxPeers == "9")
        #expect(options.logLevel == "debug" && options.logFile == "/tmp/l" && options.foreground)
        #expect(options.fuseOptions == ["allow_other", "max_read=131072"])
        #expect(throws: MountOptionError.missingValue("cache_dir")) { try SwarmMountOptions.parse(["cache_dir="]) }
        #expect(try SwarmMountOptions.parse(["fsname=a\\,b"]).fuseOptions == ["fsname=a,b"])
    }

    @Test func mountOptionsCarryTheCommandLinesSwitchesForFstab() throws {
        let options = try SwarmMountOptions.parse([
            "peer_encryption=require,http=0.0.0.0:8080,listen-host=192.0.2.7,no_dht,no-utp,no_lsd,allow_other",
            "no_trackers,no_web_seeds,no_upload,no_tcp",
        ])
        #expect(options.encryption == "require" && options.http == "0.0.0.0:8080" && options.listenHost == "192.0.2.7")
        #expect(options.disabled == SwarmMountOptions.switches)
        #expect(options.fuseOptions == ["allow_other"])
        #expect(throws: MountOptionError.unexpectedValue("no_dht")) { try SwarmMountOptions.parse(["no_dht=1"]) }
        #expect(throws: MountOptionError.missingValue("http")) { try SwarmMountOptions.parse(["http"]) }
        // Unknown `no_` options are FUSE's (libfuse rejects what it does not know).
        #expect(try SwarmMountOptions.parse(["no_such"]).fuseOptions == ["no_such"])
    }

    @Test func readyPipeReportsRoundTrip() {
        #expect(ReadyPipe.parse("mounted") == .mounted)
        #expect(ReadyPipe.parse("error 2 mountpoint /x is not empty") == .failed(exitCode: 2, message: "mountpoint /x is not empty"))
        #expect(ReadyPipe.parse("") == .vanished)
        #expect(ReadyPipe.parse("garbage") == .vanished)
    }

    @Test func mountinfoParsingUnescapes() {
        let text = """
            22 1 0:21 / /proc rw,nosuid - proc proc rw
            95 22 0:50 / /mnt/with\\040space rw,nosuid,nodev,relatime shared:1 - fuse.swarmfs /t.torrent ro,user_id=0
            """
        let mounts = MountTable.parse(text)
        #expect(mounts.count == 2)
        #expect(mounts[1] == MountTable.Mount(mountpoint: "/mnt/with space", type: "fuse.swarmfs", device: "0:50"))
        #expect(MountTable.unescape("a\\134b") == "a\\b")
    }

    @Test func pathsAreMadeAbsoluteLexically() {
        #expect(PathTools.absolute("/a/./b/../c/") == "/a/c")
        #expect(PathTools.absolute("/../..") == "/")
        #expect(PathTools.absolute("x").hasPrefix("/") && PathTools.absolute("x").hasSuffix("/x"))
    }

    @Test func libfuseOptionsAreReadOnlyAndNamed() {
        var options = FuseMountOptions(mountpoint: "/m", fsName: "/t/a.torrent")
        options.fuseOptions = ["allow_other"]
        #expect(options.libfuseOptions == ["ro", "default_permissions", "fsname=/t/a.torrent", "subtype=swarmfs", "max_read=524288", "allow_other"])
        #expect(FuseMountOptions(mountpoint: "/m", fsName: "a,b").libfuseOptions.contains("fsname=swarmfs"))
    }

    @Test func aUserMaxReadReplacesOursAndIsWhatInitRepeats() {
        var options = FuseMountOptions(mountpoint: "/m", fsName: "t")
        #expect(options.maxRead == FuseMountOptions.largestSplicedRead)
        options.fuseOptions = ["max_read=65536", "allow_other", "max_read=131072"]
        #expect(options.maxRead == 131072)
        #expect(options.libfuseOptions.filter { $0.hasPrefix("max_read=") } == ["max_read=131072"])
        #expect(options.libfuseOptions.last == "allow_other")
    }
}
