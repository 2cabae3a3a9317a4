# Restart the workers of start_worker.ps1 or start_all.ps1 one at a time; a running job finishes first or goes back to the queue.
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
# From the checkout, so its .env (I2V_* settings) is read.
Set-Location $Root
$Venv = if ($env:I2V_VENV) { $env:I2V_VENV } else { "$Root\.venv" }
& "$Venv\Scripts\i2v.exe" restart worker
exit $LASTEXITCODE
