"""The stand-in of SAT's CFDI status service, /sandbox/sat/ConsultaCFDIService.svc.

`register.mark_cancelled_at_sat(uuid)` is how the sandbox (the `sandbox
sat-cancel` command, and the portal side's `sandbox cfdi --cancelled-by-sat`)
tells it that SAT cancelled a CFDI.
"""
