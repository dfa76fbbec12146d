import Foundation

/// What starts a runner that is not on this machine's disk (docs/protocol.md, *Bootstrap*):
/// the far side runs `python -u -c loader`, and the first line it reads is the start line,
/// the runner's source with its start options.
enum RunnerBootstrap {
    /// `LOADER` of runner/runner.py, byte for byte (a test holds them equal).
    static let loader =
        #"import sys;sys.version_info<(3,9)and(sys.stderr.write('pyrun runner needs Python 3.9 or newer, this is %s\n'%sys.version.split()[0]),sys.exit(3));sys.path[:]=[p for p in sys.path if p];import os,json;d=b'';exec("while b'\\n' not in d:d+=os.read(0,1<<16) or os._exit(3)");l,_,r=d.partition(b'\n');s=json.loads(l);s=s if type(s) is dict else{'source':s};exec("t=s.pop('source');k=s.pop('codeCache',None);c=b=None\nif k:\n try:\n  import marshal,zlib;b=(sys.version+t).encode()\n  p=os.path.join(os.path.expanduser(k),'runner-%08x%08x%x.bin'%(zlib.crc32(b),zlib.adler32(b),len(b)))\n  with open(p,'rb') as f:c=marshal.load(f)\n  c.co_code\n except Exception:c=None\nif c is None:\n c=compile(t,'<pyrun-runner>','exec')\n if k:\n  try:\n   os.makedirs(os.path.dirname(p),0o700,exist_ok=True);n='%s.%d'%(p,os.getpid())\n   with open(n,'wb') as f:marshal.dump(c,f)\n   os.replace(n,p)\n  except Exception:\n   try:os.unlink(n)\n   except Exception:pass\ndel t,l,d,b\n");exec(c,{'__name__':'__main__','__pyrun_stdin__':r,'__pyrun_start__':s})"#

    /// A piece of every start line (its `source` key): seen on the frame channel before
    /// `hello`, it is the start line echoed back by a terminal on the way.
    static let echoMark = "\"source\":\""

    /// The first line sent to a bootstrapped runner: a JSON object with the runner's `source`,
    /// its `environment`, `keepOnly` (names of the far side's variables to keep; absent:
    /// all) and `set` (variables to set, the `PYRUN_*` options among them), and its `prelude`
    /// (entries with their sources, loaded in place of `PYRUN_PRELUDE`), and the far side's
    /// `codeCache` directory for the compiled runner. Newline included.
    static func startLine(
        source: [UInt8], keepOnly: Set<String>?, set variables: [String: String], prelude: [JSONValue]? = nil,
        codeCache: String? = nil
    ) -> [UInt8] {
        var environment: [String: JSONValue] = [
            "set": .object(variables.mapValues { .string($0) })
        ]
        if let keepOnly { environment["keepOnly"] = .array(keepOnly.sorted().map { .string($0) }) }
        var start: [String: JSONValue] = [
            "source": .string(String(decoding: source, as: UTF8.self)),
            "environment": .object(environment),
        ]
        if let prelude { start["prelude"] = .array(prelude) }
        if let codeCache { start["codeCache"] = .string(codeCache) }
        var line = Array(JSONValue.object(start).serialized().utf8)
        line.append(0x0A)
        return line
    }
}
