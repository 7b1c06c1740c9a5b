/* gamelan's version, the one place it is written: every binary's --version
 * and the CNI plugins' "about" line print it. */
#pragma once

#define GL_VERSION "0.1.0"
