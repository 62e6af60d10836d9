#!/usr/bin/env bash
# Setup: the swtpm harness of lib.sh: a per-run EK CA (swtpm_localca, root ->
# intermediate), two swtpm instances provisioned by swtpm_setup with RSA and ECC EKs,
# their certificates and a platform certificate.
# Actions: read the EK certificates from NV, verify them against EK_CA_DIR, recreate the
# EKs with tpm2_createek, restart and stop TPMs, tear a whole run down.
# Expected: the handles and NV indices the agent and registrar rely on are there, the
# chain verifies without -partial_chain, tpm2_createek reproduces the persistent EKs, a
# restart keeps keys and NV but resets PCRs, and no swtpm survives the test's exit.
. "$(dirname "$0")/lib.sh"

for tool in swtpm swtpm_setup swtpm_localca tpm2_getcap tpm2_nvread tpm2_createek openssl; do
	if ! command -v "$tool" >/dev/null; then
		echo "skip harness: $tool is not installed (deploy/deps.sh installs it)"
		exit 0
	fi
done

# DER of a public key, for comparisons; $1 is a PEM public key or a PEM/DER certificate.
pub_der() {
	case $1 in
	*.der) openssl x509 -inform der -in "$1" -noout -pubkey | openssl pkey -pubin -outform der ;;
	*) openssl pkey -pubin -in "$1" -outform der ;;
	esac
}

# --- the EK CA ---
swtpm_ca_init
check "swtpm_ca_init sets EK_CA_DIR" $?
[ -d "$EK_CA_DIR" ] && [ "$(ls "$EK_CA_DIR" | sort | tr '\n' ' ')" = "intermediate.pem root.pem " ]
check "EK_CA_DIR holds root.pem and intermediate.pem" $?
case $EK_CA_DIR in "$T"/*) true ;; *) false ;; esac
check "the EK CA lives under \$T" $?
root_subj=$(openssl x509 -in "$EK_CA_DIR/root.pem" -noout -subject -nameopt RFC2253)
root_iss=$(openssl x509 -in "$EK_CA_DIR/root.pem" -noout -issuer -nameopt RFC2253)
int_iss=$(openssl x509 -in "$EK_CA_DIR/intermediate.pem" -noout -issuer -nameopt RFC2253)
[ "${root_subj#subject=}" = "${root_iss#issuer=}" ] && [ "${int_iss#issuer=}" = "${root_subj#subject=}" ] &&
	openssl x509 -in "$EK_CA_DIR/intermediate.pem" -noout -ext basicConstraints | grep -q "CA:TRUE" &&
	openssl verify -CAfile "$EK_CA_DIR/root.pem" "$EK_CA_DIR/intermediate.pem" >/dev/null
check "root is self-signed and signs the intermediate CA" $?

# --- two TPMs at once ---
swtpm_start node1 >"$T/start1.out" 2>&1
rc1=$?
swtpm_start node2 >"$T/start2.out" 2>&1
rc2=$?
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
check "swtpm_start node1 and node2" $?
[ ! -s "$T/start1.out" ] && [ ! -s "$T/start2.out" ]
check "swtpm_start prints nothing" $?
if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then
	cat "$T/start1.out" "$T/start2.out" "$T"/tpm-*/setup.log 2>/dev/null | tail -30
	exit 1
fi
[[ $TCTI_node1 =~ ^swtpm:host=127\.0\.0\.1,port=[0-9]+$ ]] && [ "$TCTI_node1" != "$TCTI_node2" ] &&
	[ "$((SWTPM_PORT_node1 + 1))" != "$SWTPM_PORT_node2" ] &&
	[ "$((SWTPM_PORT_node2 + 1))" != "$SWTPM_PORT_node1" ]
check "TCTI_node1 and TCTI_node2 use distinct loopback port pairs" $?
tpm2_getcap -T "$TCTI_node1" properties-fixed >/dev/null 2>&1 &&
	tpm2_getcap -T "$TCTI_node2" properties-fixed >/dev/null 2>&1
check "both TPMs answer at the same time" $?

for n in node1 node2; do
	tcti_var=TCTI_$n
	tcti=${!tcti_var}
	d=$T/check-$n
	mkdir -p "$d"

	persistent=$(tpm2_getcap -T "$tcti" handles-persistent)
	grep -qix -- "- 0x81010001" <<<"$persistent" && grep -qix -- "- 0x81010016" <<<"$persistent"
	check "$n: EKs persistent at 0x81010001 (RSA) and 0x81010016 (ECC)" $?

	nvpub=$(tpm2_nvreadpublic -T "$tcti")
	grep -qi "^0x1c00002:" <<<"$nvpub" && grep -qi "^0x1c00016:" <<<"$nvpub" &&
		grep -qi "^0x1c08000:" <<<"$nvpub"
	check "$n: tpm2_nvreadpublic lists 0x1c00002, 0x1c00016 and 0x1c08000" $?

	tpm2_nvread -T "$tcti" 0x01c00002 -o "$d/ek-rsa.der" 2>/dev/null &&
		tpm2_nvread -T "$tcti" 0x01c00016 -o "$d/ek-ecc.der" 2>/dev/null
	check "$n: tpm2_nvread of both EK certificates" $?

	# The NV index holds exactly one DER certificate, no padding.
	[ "$(openssl x509 -inform der -in "$d/ek-rsa.der" -outform der | wc -c)" = \
		"$(wc -c <"$d/ek-rsa.der")" ]
	check "$n: the RSA EK certificate fills its NV index exactly" $?

	for kind in rsa ecc; do
		openssl x509 -inform der -in "$d/ek-$kind.der" -out "$d/ek-$kind.pem" &&
			out=$(openssl verify -CAfile "$EK_CA_DIR/root.pem" \
				-untrusted "$EK_CA_DIR/intermediate.pem" "$d/ek-$kind.pem" 2>&1) &&
			grep -q ": OK$" <<<"$out"
		check "$n: $kind EK certificate verifies: root -> intermediate -> EK" $?
	done
	# What the registrar does with registrar.ek_ca_dir: every file there is trusted.
	cat "$EK_CA_DIR"/*.pem >"$d/store.pem"
	openssl verify -CAfile "$d/store.pem" "$d/ek-rsa.pem" >/dev/null 2>&1
	check "$n: RSA EK certificate verifies against all of EK_CA_DIR" $?
	! openssl verify -CAfile "$EK_CA_DIR/root.pem" "$d/ek-rsa.pem" >/dev/null 2>&1
	check "$n: the root alone is not enough (the intermediate is real)" $?

	tpm2_readpublic -T "$tcti" -c 0x81010001 -f pem -o "$d/ek-rsa-persistent.pem" >/dev/null &&
		tpm2_readpublic -T "$tcti" -c 0x81010016 -f pem -o "$d/ek-ecc-persistent.pem" >/dev/null &&
		cmp -s <(pub_der "$d/ek-rsa-persistent.pem") <(pub_der "$d/ek-rsa.der") &&
		cmp -s <(pub_der "$d/ek-ecc-persistent.pem") <(pub_der "$d/ek-ecc.der")
	check "$n: each EK certificate certifies its persistent EK" $?
	openssl x509 -in "$d/ek-ecc.pem" -noout -text | grep -q "NIST CURVE: P-384"
	check "$n: the ECC EK is NIST P-384" $?

	tpm2_createek -T "$tcti" -c "$d/ek.ctx" -G rsa -f pem -u "$d/ek-rsa-created.pem" >/dev/null &&
		cmp -s <(pub_der "$d/ek-rsa-created.pem") <(pub_der "$d/ek-rsa-persistent.pem")
	check "$n: tpm2_createek -G rsa reproduces the EK at 0x81010001" $?
	tpm2_createek -T "$tcti" -c "$d/ek384.ctx" -G ecc384 -f pem -u "$d/ek-ecc-created.pem" \
		>/dev/null && cmp -s <(pub_der "$d/ek-ecc-created.pem") <(pub_der "$d/ek-ecc-persistent.pem")
	check "$n: tpm2_createek -G ecc384 reproduces the EK at 0x81010016" $?
	tpm2_flushcontext -T "$tcti" -t >/dev/null 2>&1
done
! cmp -s "$T/check-node1/ek-rsa.der" "$T/check-node2/ek-rsa.der"
check "the two TPMs have different EKs" $?

# --- restart: same state, same port, a fresh boot ---
pid_before=$SWTPM_PID_node1
tcti_before=$TCTI_node1
tpm2_pcrextend -T "$TCTI_node1" \
	16:sha256=0000000000000000000000000000000000000000000000000000000000000001 &&
	! tpm2_pcrread -T "$TCTI_node1" sha256:16 | grep -q "0x0000000000000000000000000000000000000000000000000000000000000000"
check "PCR 16 extended before the restart" $?
swtpm_restart node1 >"$T/restart.out" 2>&1 && [ ! -s "$T/restart.out" ]
check "swtpm_restart node1" $?
[ "$TCTI_node1" = "$tcti_before" ] && [ "$SWTPM_PID_node1" != "$pid_before" ] &&
	! kill -0 "$pid_before" 2>/dev/null
check "restart: same TCTI, new process, old one gone" $?
tpm2_pcrread -T "$TCTI_node1" sha256:16 | grep -q "0x0000000000000000000000000000000000000000000000000000000000000000"
check "restart resets the PCRs" $?
tpm2_nvread -T "$TCTI_node1" 0x01c00002 -o "$T/ek-after.der" 2>/dev/null &&
	cmp -s "$T/ek-after.der" "$T/check-node1/ek-rsa.der" &&
	tpm2_getcap -T "$TCTI_node1" handles-persistent | grep -qix -- "- 0x81010001"
check "restart keeps the EK and its certificate" $?

# --- stop ---
pid2=$SWTPM_PID_node2
swtpm_stop node2
check "swtpm_stop node2" $?
! kill -0 "$pid2" 2>/dev/null && ! tpm2_getcap -T "$TCTI_node2" properties-fixed >/dev/null 2>&1
check "stopped TPM is gone and no longer answers" $?
tpm2_getcap -T "$TCTI_node1" properties-fixed >/dev/null 2>&1
check "the other TPM still answers" $?

# --- teardown of a whole run, in its own shell with its own $T ---
inner=$(bash -c '. "$1/lib.sh"; swtpm_start a && swtpm_start b || exit 1
	echo "$SWTPM_PID_a $SWTPM_PID_b $T"' _ "$(dirname "$0")" 2>&1)
rc=$?
set -- $inner
[ $rc -eq 0 ] && [ $# -eq 3 ] && [ "$1" -gt 1 ] && [ "$2" -gt 1 ]
r=$?
check "a separate run starts two TPMs" $r
[ $r -eq 0 ] || echo "# inner run (exit $rc): $inner"
if [ $# -eq 3 ]; then
	alive=0
	for p in "$1" "$2"; do
		# The PIDs were the inner shell's children: after its exit they must be gone.
		if kill -0 "$p" 2>/dev/null && grep -q swtpm "/proc/$p/cmdline" 2>/dev/null; then
			alive=1
		fi
	done
	[ $alive -eq 0 ]
	check "teardown leaves no swtpm process" $?
	[ ! -e "$3" ]
	check "teardown removes the run's \$T" $?
fi
