# Stop everything the start scripts started on this machine, gracefully.
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
$Venv = if ($env:I2V_VENV) { $env:I2V_VENV } else { "$Root\.venv" }
& "$Venv\Scripts\i2v.exe" down
exit $LASTEXITCODE
