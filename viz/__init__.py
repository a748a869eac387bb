"""3D view of the twin with pyvista: desktop window, trame web app, PNG snapshots."""
