/* devpath: UEFI device paths rendered as text. */
#ifndef VIGIL_DEVPATH_H
#define VIGIL_DEVPATH_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

/* Render a UEFI device path as text appended to out: "PciRoot(0x0)/Pci(0x2,0x3)/
 * HD(1,GPT,<guid>,0x800,0x12c000)/\EFI\redhat\shimx64.efi". Nodes we do not know are
 * shown generically as "Path(type,subtype,hex)". 0, or -1 for a malformed path (out may
 * then hold a prefix). */
int eventlog_devpath_format(const uint8_t *dp, size_t len, buf_t *out, err_t *e);

#endif
