/* pb: the one door to the generated protobuf-c code (build/gen/vigil/v1/NAME.pb-c.h). Other
 * modules include this header, never the generated ones, so a change of generator or of
 * the generated names is absorbed here. */
#ifndef VIGIL_PB_H
#define VIGIL_PB_H

#include "vigil/v1/registrar.pb-c.h"
#include "vigil/v1/verifier.pb-c.h"

#include "common/base/buf.h"

/* Pack any protobuf-c message into out (replacing its contents). */
void pb_pack(const ProtobufCMessage *m, buf_t *out);

#endif
