#pragma once

#include <QList>

class QLocale;
class QTranslator;

namespace fmb {

// Installs the console's translations for locale (ours, embedded under
// :/i18n by qt_add_translations, and Qt's own for the standard dialog
// buttons, from the system) on the application. English is a translation
// too: it carries the plural forms. Returns the installed translators (owned
// by the application); the first is ours, or the list is empty.
QList<QTranslator *> installConsoleTranslations(const QLocale &locale);

} // namespace fmb
