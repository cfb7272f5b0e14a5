#pragma once

#include <QList>
#include <QPair>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace fmb {

// A child's environment, built from nothing rather than from the broker's
// (issue 11): the broker's environment may hold secrets (FMB_* settings, a
// service's credentials), and a child is code we do not trust with them.
// A child gets, in this order (a later one wins):
// - from the broker's environment only PATH, HOME, LANG, LC_* and TZ;
// - the variables named in `passNames` (--child-pass-env), when set;
// - `set` (--child-env, then the user's token and FORGEJO_URL).
[[nodiscard]] QProcessEnvironment childEnvironment(const QProcessEnvironment &broker,
                                                   const QStringList &passNames,
                                                   const QList<QPair<QString, QString>> &set);

// Whether a child keeps this variable of the broker's environment without
// being told to (the allow-list above).
[[nodiscard]] bool isKeptForChildren(const QString &name);

} // namespace fmb
