#pragma once

#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

#include "base/Result.h"
#include "config/BrokerConfig.h"

namespace fmb {

// What the command line asks the daemon to do. When help or version is set the
// daemon prints configHelpText() (help wins over version) or its version and
// exits 0; nothing else is read or validated then, so config keeps its defaults.
// Otherwise config holds the merged, validated settings.
struct ConfigRequest {
    bool help = false;    // --help or -h
    bool version = false; // --version
    BrokerConfig config;
};

// args: the full argv (args[0] is the program name). env: the process environment.
// Each setting comes from the first of: flag, FMB_* variable, the INI file named
// by --config / FMB_CONFIG, the default. A list setting takes all its entries from
// that one source. Scalar values and env/file list entries are trimmed; an empty
// FMB_* variable counts as unset. A setting whose --help shows no value name is a
// switch: the bare flag means true. auth defaults to oauth, which needs public_url,
// forgejo_url, forgejo_client_id and forgejo_client_secret_file; the empty upstream
// URLs and state_dir are then filled in (from forgejo_url; /var/lib/... as root,
// else under $XDG_DATA_HOME), so the daemon gets final values. With auth none the
// OAuth settings are kept as given and not filled in.
// The first bad value, unknown flag, unknown INI key or missing setting ends loading
// with an Error whose subject is the key and whose message names the key, the value
// (never a --child-env value) and where it came from.
[[nodiscard]] Result<ConfigRequest> parseConfigRequest(const QStringList &args,
                                                       const QProcessEnvironment &env);

// parseConfigRequest() for callers that only want a config: --help or --version
// is an Error (subject "help" or "version") here.
[[nodiscard]] Result<BrokerConfig> loadConfig(const QStringList &args, const QProcessEnvironment &env);

// What --help prints: every flag with its INI key, FMB_* variable and default.
[[nodiscard]] QString configHelpText();

} // namespace fmb
